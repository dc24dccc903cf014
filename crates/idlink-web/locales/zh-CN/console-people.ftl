## The user 360° page.
console-nav-people = 用户全景
