# idlink H5 pages — cards (zh-CN). Keys here exist in every language (a test checks).
