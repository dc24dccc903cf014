# idlink H5 pages — cards (en). Keys here exist in every language (a test checks).
