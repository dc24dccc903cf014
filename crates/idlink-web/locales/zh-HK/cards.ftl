# idlink H5 pages — cards (zh-HK). Keys here exist in every language (a test checks).
