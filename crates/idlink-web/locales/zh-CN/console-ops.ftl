## Key status, who is on duty, and asking the user for more information.
console-nav-keys = 密钥状态
console-nav-duty = 值班
