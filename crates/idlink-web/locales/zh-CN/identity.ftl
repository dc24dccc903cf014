# idlink H5 pages — identity (zh-CN). Keys here exist in every language (a test checks).
