# idlink H5 pages — security (zh-CN). Keys here exist in every language (a test checks).
