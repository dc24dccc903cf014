# idlink H5 pages — security (en). Keys here exist in every language (a test checks).
