## The institution health page.
console-nav-health = 机构健康
