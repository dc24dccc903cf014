# Issue 14: the console-apps pages' words.
