## The user 360° page.
console-nav-people = 用戶全景
