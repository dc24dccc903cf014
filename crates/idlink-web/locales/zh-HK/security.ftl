# idlink H5 頁面 — 安全（繁體中文）：支付密碼與我的裝置。每個鍵在三種語言中都有（有測試檢查）。

security-title = 支付密碼
security-intro = 6 位數字支付密碼用於確認敏感操作，例如查看銀行卡餘額或更換主裝置。
security-set = 設定支付密碼
security-verify = 驗證我的支付密碼
security-reset = 重設支付密碼
security-back = 返回支付密碼
password-status-none = 您還沒有設定支付密碼。
password-status-set = 您的支付密碼已設定，可以使用。
password-locked = 輸錯次數過多，您的支付密碼已鎖定。重設後才能再次使用。
password-locked-since = 因輸錯次數過多，您的支付密碼自 { $time } 起已鎖定，重設前一直保持鎖定。
password-tries-left = 再輸錯 { $count } 次將會鎖定。
password-none-yet = 您還沒有設定支付密碼。
password-done-set = 支付密碼已設定。
password-done-reset = 支付密碼已重設，新密碼現在即可使用。

pad-label = 支付密碼
pad-hint = 6 位數字。不會顯示，也不會以明文儲存。
pad-hint-new = 6 位數字，不能是同一數字重複，也不能是 123456 這樣的連續數字。
pad-hint-again = 再輸入一次相同的 6 位數字以確認。
set-new-label = 新支付密碼
set-again-label = 再次輸入新支付密碼

set-title = 設定支付密碼
set-intro = 我們先向您帳戶的手機號碼發送 6 位短訊驗證碼，然後請您設定密碼並輸入兩次。
reset-title = 重設支付密碼
reset-intro = 忘記支付密碼或已被鎖定？可用發送到帳戶手機號碼的短訊驗證碼，再加一項核驗來重設：人臉核驗，或一張您實名身份名下、銀行預留手機號碼為帳戶手機號碼的銀行卡。
set-send-code = 發送驗證碼
set-code-sent = 驗證碼已發送到您帳戶的手機號碼，幾分鐘內有效。
set-new-code = 重新發送驗證碼
set-code-used = 今次嘗試已用掉這個驗證碼。請用表格下方的按鈕重新發送驗證碼。
set-submit = 設定密碼
reset-submit = 重設密碼
reset-proof-legend = 第二項核驗
reset-proof-face = 人臉核驗
reset-liveness-label = 人臉採集
reset-liveness-hint = 本測試服務用一個選項代替鏡頭。
reset-proof-card = 改用銀行卡
reset-card-label = 銀行卡號
reset-card-hint = 您實名身份名下的銀行卡，銀行預留手機號碼須為帳戶手機號碼。
liveness-pass = 清晰的真人面部（通過）
liveness-poor-lighting = 光線太暗
liveness-spoof = 面部相片
liveness-mismatch = 他人的面部

field-password-mismatch = 兩次輸入不一致。請在兩個輸入框中重新輸入新密碼。
field-card-number = 請按卡面輸入卡號：12 至 19 位數字。
field-pad-six-digits = 支付密碼是 6 位數字。

verify-title = 驗證我的支付密碼
verify-intro = 輸入支付密碼，確認您還記得它。輸錯會計入鎖定次數。
verify-submit = 驗證
verify-forgot = 忘記了？去重設
verify-right = 支付密碼正確。

devices-title = 我的裝置
devices-intro = 登入過您帳戶的手機和瀏覽器。主裝置是您最信任的那部裝置。
devices-primary = 主裝置
devices-this = 本裝置
devices-added = 加入時間
devices-last-used = 最近使用
devices-make-primary = 設為主裝置
devices-logout-all-title = 在所有裝置上登出
devices-logout-all-hint = 結束您帳戶在所有裝置上的登入，包括本裝置。之後需用短訊驗證碼重新登入。
devices-logout-all = 在所有裝置上登出
devices-back = 返回我的裝置
device-generic-browser = 瀏覽器
device-web = { $browser } 網頁版
device-web-iphone = iPhone 上的 { $browser } 網頁版
device-web-ipad = iPad 上的 { $browser } 網頁版
device-web-android = Android 上的 { $browser } 網頁版
device-web-harmonyos = 鴻蒙上的 { $browser } 網頁版
device-web-windows = Windows 上的 { $browser } 網頁版
device-web-mac = Mac 上的 { $browser } 網頁版
primary-title = 更換主裝置
primary-intro = 將「{ $device }」設為主裝置，請輸入支付密碼確認。
primary-submit = 設為主裝置
primary-needs-password = 更換主裝置需要支付密碼，請先設定。
primary-done = 「{ $device }」現在是您的主裝置。

face-reason-poor_lighting = 人臉核驗未通過：光線太暗。請在日間或明亮的房間重試，不要背光。
face-reason-liveness_failed = 人臉核驗未通過：請本人手持手機正對鏡頭，相片和螢幕畫面會被拒絕。
face-reason-face_mismatch = 面部與您的實名身份不符。只有您本人可以重設支付密碼。
face-reason-review = 人臉核驗需要人工審核。請稍後再試，或改用銀行卡。
card-reason-card_holder_mismatch = 銀行表示這張卡不在您的實名名下。請使用您本人的卡。
card-reason-reserved_phone_mismatch = 這張卡的銀行預留手機號碼不是您的帳戶手機號碼。請換一張卡，或改用人臉核驗。
card-reason-card_reported_lost = 銀行表示這張卡已掛失。請換一張卡，或改用人臉核驗。

problem-payment_password_refused = 支付密碼未通過。
problem-weak_payment_password = 請換一個密碼：6 位數字，不能是同一數字重複，也不能是 123456 這樣的連續數字。
problem-face_check_required = 您已設定支付密碼：重設還需要人臉核驗或銀行卡核驗。
problem-device_not_found = 這部裝置已不在您的列表中。請返回我的裝置。
security-problem-face_check_failed = 人臉核驗未通過，請重試。
security-problem-bank_card_check_failed = 銀行未能確認這張卡。請檢查卡號，或改用人臉核驗。
security-problem-identity_not_verified = 銀行卡核驗需要您先完成實名認證。請先認證，或改用人臉核驗。
security-problem-step_up_required = 確認已過期，請重新輸入支付密碼。
