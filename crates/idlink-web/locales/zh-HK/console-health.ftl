## The institution health page.
console-nav-health = 機構健康
