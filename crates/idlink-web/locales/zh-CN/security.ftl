# idlink H5 页面 — 安全（简体中文）：支付密码与我的设备。每个键在三种语言中都有（有测试检查）。

security-title = 支付密码
security-intro = 6 位数字支付密码用于确认敏感操作，例如查看银行卡余额或更换主设备。
security-set = 设置支付密码
security-verify = 验证我的支付密码
security-reset = 重置支付密码
security-back = 返回支付密码
password-status-none = 您还没有设置支付密码。
password-status-set = 您的支付密码已设置，可以使用。
password-locked = 输错次数过多，您的支付密码已锁定。重置后才能再次使用。
password-locked-since = 因输错次数过多，您的支付密码自 { $time } 起已锁定，重置前一直保持锁定。
password-tries-left = 再输错 { $count } 次将锁定。
password-none-yet = 您还没有设置支付密码。
password-done-set = 支付密码已设置。
password-done-reset = 支付密码已重置，新密码现在即可使用。

pad-label = 支付密码
pad-hint = 6 位数字。不会显示，也不会以明文保存。
pad-hint-new = 6 位数字，不能是同一数字重复，也不能是 123456 这样的连续数字。
pad-hint-again = 再输入一次相同的 6 位数字以确认。
set-new-label = 新支付密码
set-again-label = 再次输入新支付密码

set-title = 设置支付密码
set-intro = 我们先向您账户的手机号发送 6 位短信验证码，然后请您设置密码并输入两次。
reset-title = 重置支付密码
reset-intro = 忘记支付密码或已被锁定？可用发送到账户手机号的短信验证码，再加一项核验来重置：人脸核验，或一张您实名身份名下、银行预留手机号为账户手机号的银行卡。
set-send-code = 发送验证码
set-code-sent = 验证码已发送到您账户的手机号，几分钟内有效。
set-new-code = 重新发送验证码
set-code-used = 本次尝试已用掉这个验证码。请用表单下方的按钮重新发送验证码。
set-submit = 设置密码
reset-submit = 重置密码
reset-proof-legend = 第二项核验
reset-proof-face = 人脸核验
reset-liveness-label = 人脸采集
reset-liveness-hint = 本测试服务用一个选项代替摄像头。
reset-proof-card = 改用银行卡
reset-card-label = 银行卡号
reset-card-hint = 您实名身份名下的银行卡，银行预留手机号须为账户手机号。
liveness-pass = 清晰的真人面部（通过）
liveness-poor-lighting = 光线太暗
liveness-spoof = 面部照片
liveness-mismatch = 他人的面部

field-password-mismatch = 两次输入不一致。请在两个输入框中重新输入新密码。
field-card-number = 请按卡面输入卡号：12 到 19 位数字。
field-pad-six-digits = 支付密码是 6 位数字。

verify-title = 验证我的支付密码
verify-intro = 输入支付密码，确认您还记得它。输错会计入锁定次数。
verify-submit = 验证
verify-forgot = 忘记了？去重置
verify-right = 支付密码正确。

devices-title = 我的设备
devices-intro = 登录过您账户的手机和浏览器。主设备是您最信任的那台设备。
devices-primary = 主设备
devices-this = 本设备
devices-added = 添加时间
devices-last-used = 最近使用
devices-make-primary = 设为主设备
devices-logout-all-title = 在所有设备上退出
devices-logout-all-hint = 结束您账户在所有设备上的登录，包括本设备。之后需用短信验证码重新登录。
devices-logout-all = 在所有设备上退出登录
devices-back = 返回我的设备
device-generic-browser = 浏览器
device-web = { $browser } 网页版
device-web-iphone = iPhone 上的 { $browser } 网页版
device-web-ipad = iPad 上的 { $browser } 网页版
device-web-android = Android 上的 { $browser } 网页版
device-web-harmonyos = 鸿蒙上的 { $browser } 网页版
device-web-windows = Windows 上的 { $browser } 网页版
device-web-mac = Mac 上的 { $browser } 网页版
primary-title = 更换主设备
primary-intro = 将“{ $device }”设为主设备，请输入支付密码确认。
primary-submit = 设为主设备
primary-needs-password = 更换主设备需要支付密码，请先设置。
primary-done = “{ $device }”现在是您的主设备。

face-reason-poor_lighting = 人脸核验未通过：光线太暗。请在白天或明亮的房间重试，不要背光。
face-reason-liveness_failed = 人脸核验未通过：请本人手持手机正对镜头，照片和屏幕画面会被拒绝。
face-reason-face_mismatch = 面部与您的实名身份不符。只有您本人可以重置支付密码。
face-reason-review = 人脸核验需要人工审核。请稍后再试，或改用银行卡。
card-reason-card_holder_mismatch = 银行表示这张卡不在您的实名名下。请使用您本人的卡。
card-reason-reserved_phone_mismatch = 这张卡的银行预留手机号不是您的账户手机号。请换一张卡，或改用人脸核验。
card-reason-card_reported_lost = 银行表示这张卡已挂失。请换一张卡，或改用人脸核验。

problem-payment_password_refused = 支付密码未通过。
problem-weak_payment_password = 请换一个密码：6 位数字，不能是同一数字重复，也不能是 123456 这样的连续数字。
problem-face_check_required = 您已设置支付密码：重置还需要人脸核验或银行卡核验。
problem-device_not_found = 这台设备已不在您的列表中。请返回我的设备。
security-problem-face_check_failed = 人脸核验未通过，请重试。
security-problem-bank_card_check_failed = 银行未能确认这张卡。请检查卡号，或改用人脸核验。
security-problem-identity_not_verified = 银行卡核验需要您先完成实名认证。请先认证，或改用人脸核验。
security-problem-step_up_required = 确认已过期，请重新输入支付密码。
