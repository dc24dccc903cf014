# idlink H5 pages — security (zh-HK). Keys here exist in every language (a test checks).
