## The user 360° page.
console-nav-people = User 360°
