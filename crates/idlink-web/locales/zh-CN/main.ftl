# idlink H5 页面 — 简体中文。每个键在 en 和 zh-HK 中都存在（有测试检查）。

app-name = idlink
app-tagline = 您的实名身份，以及谁可以查看您的记录
skip-to-content = 跳到主要内容
nav-label = 主菜单
lang-label = 语言
lang-change = 切换语言
elder-label = 大字模式
elder-turn-on = 开启大字和大按钮
elder-turn-off = 关闭大字和大按钮
form-errors-title = 请修改以下内容
field-required = 必填
back-home = 返回首页

login-title = 手机号登录
login-intro = 我们会发送 6 位短信验证码。首次登录将自动创建账户。
login-phone-label = 手机号码
login-phone-hint = 11 位数字，例如 138 1234 1234
login-send-code = 获取验证码
login-code-title = 输入验证码
login-code-sent = 验证码已发送至 { $phone }，几分钟内有效。
login-code-label = 6 位验证码
login-code-hint = 仅数字，见短信
login-submit = 登录
login-other-phone = 换一个号码
device-check-title = 确认新设备
device-check-intro = 这部手机或浏览器此前未登录过您的账户。我们已向 { $phone } 再发送一条验证码，以确认是您本人。
device-check-submit = 确认设备
logout = 退出登录
logged-out = 您已退出登录。

home-title = 我的身份
home-welcome = 您已在 { $device } 上登录。
home-menu-identity = 实名认证
home-menu-cards = 银行卡与余额
home-menu-security = 支付密码与设备
home-menu-access = 谁查看了我的数据

problem-generic = 出现问题（{ $code }）。请重试；如多次出现，请带上此代码联系客服。
field-invalid_phone = 请输入 11 位中国大陆手机号码，例如 138 1234 1234。
field-invalid_code = 验证码是短信中的 6 位数字。
problem-code_wrong = 验证码不正确，请核对短信后重试。
problem-challenge_gone = 验证码已过期或已使用，请重新获取。
problem-rate_limited = 获取验证码次数过多，请 { $seconds } 秒后再试。
problem-institution_unavailable = 短信暂时无法发送，请 { $seconds } 秒后重试。
problem-session_required = 请先登录。
problem-session_invalid = 登录已失效，请重新登录。
problem-device_check_required = 请先用我们发送的验证码确认这台新设备。
problem-csrf = 此表单打开时间过长或来自其他网站，已重新加载，请再提交一次。
