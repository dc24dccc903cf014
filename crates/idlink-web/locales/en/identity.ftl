# idlink H5 pages — identity (en). Keys here exist in every language (a test checks).
