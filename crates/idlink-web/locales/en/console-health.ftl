## The institution health page.
console-nav-health = Institution health
