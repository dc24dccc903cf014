# idlink H5 頁面 — 繁體中文（香港）。每個鍵在 en 和 zh-CN 中都存在（有測試檢查）。

app-name = idlink
app-tagline = 您的實名身份，以及誰可以查看您的記錄
skip-to-content = 跳到主要內容
nav-label = 主選單
lang-label = 語言
lang-change = 切換語言
elder-label = 大字模式
elder-turn-on = 開啟大字和大按鈕
elder-turn-off = 關閉大字和大按鈕
form-errors-title = 請修改以下內容
field-required = 必填
back-home = 返回首頁

login-title = 手機號碼登入
login-intro = 我們會發送 6 位短訊驗證碼。首次登入將自動建立帳戶。
login-phone-label = 手機號碼
login-phone-hint = 11 位數字，例如 138 1234 1234
login-send-code = 取得驗證碼
login-code-title = 輸入驗證碼
login-code-sent = 驗證碼已發送至 { $phone }，數分鐘內有效。
login-code-label = 6 位驗證碼
login-code-hint = 只限數字，見短訊
login-submit = 登入
login-other-phone = 使用其他號碼
device-check-title = 確認新裝置
device-check-intro = 這部手機或瀏覽器從未登入過您的帳戶。我們已向 { $phone } 再發送一個驗證碼，以確認是您本人。
device-check-submit = 確認裝置
logout = 登出
logged-out = 您已登出。

home-title = 我的身份
home-welcome = 您已在 { $device } 上登入。
home-menu-identity = 實名認證
home-menu-cards = 銀行卡與餘額
home-menu-security = 支付密碼與裝置
home-menu-access = 誰查看了我的資料

problem-generic = 出現問題（{ $code }）。請重試；如多次出現，請連同此代碼聯絡客戶服務。
field-invalid_phone = 請輸入 11 位中國內地手機號碼，例如 138 1234 1234。
field-invalid_code = 驗證碼是短訊中的 6 位數字。
problem-code_wrong = 驗證碼不正確，請核對短訊後重試。
problem-challenge_gone = 驗證碼已過期或已使用，請重新取得。
problem-rate_limited = 取得驗證碼次數過多，請於 { $seconds } 秒後再試。
problem-institution_unavailable = 短訊暫時無法發送，請於 { $seconds } 秒後重試。
problem-session_required = 請先登入。
problem-session_invalid = 登入已失效，請重新登入。
problem-device_check_required = 請先用我們發送的驗證碼確認這部新裝置。
problem-csrf = 此表格開啟時間過長或來自其他網站，已重新載入，請再提交一次。
