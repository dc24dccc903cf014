# idlink H5 pages — identity (zh-HK). Keys here exist in every language (a test checks).
