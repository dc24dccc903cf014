# Issue 14: the authorize pages' words.
