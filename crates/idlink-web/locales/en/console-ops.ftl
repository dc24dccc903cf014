## Key status, who is on duty, and asking the user for more information.
console-nav-keys = Keys
console-nav-duty = On duty
