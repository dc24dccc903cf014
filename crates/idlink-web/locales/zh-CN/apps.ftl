# Issue 14: the apps pages' words.
