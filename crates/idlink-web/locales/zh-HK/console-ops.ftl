## Key status, who is on duty, and asking the user for more information.
console-nav-keys = 密鑰狀態
console-nav-duty = 值班

## 請用戶補充資料（ADR 0019）。
console-status-waiting_user = 等待用戶補充
console-sla-paused = 等待用戶補充期間暫停計時
console-info-reason-document_unreadable = 證件無法辨認
console-info-reason-document_expired = 證件已過期
console-info-reason-photo_page_missing = 缺少證件相片頁
console-info-reason-guardian_proof_missing = 缺少監護關係證明
console-history-asked = 請用戶補充資料：{ $reason }
console-history-answered = 已回覆補充請求
console-the-user = 用戶
console-waiting-user = 等待用戶補充：{ $reason }。
console-waiting-since = 於 { $time } 發出請求；用戶回覆後重新開始計時。
console-ask-legend = 請用戶補充資料
console-ask-hint = 用戶回覆前，該個案離開審核隊列；用戶會以其語言看到原因。
console-info-reason = 缺少的內容
console-ask-note = 給用戶的說明（可選）
console-ask = 請用戶補充
console-done-asked = 已請用戶補充資料；用戶回覆後個案回到審核隊列。
console-field-info-reason-required = 請先選擇缺少的內容，再請用戶補充。
console-problem-case_awaiting_user = 該個案正在等待用戶補充資料，用戶回覆後回到審核隊列。
console-problem-case_not_held = 請先認領該個案：只有持有個案的審核員才能請用戶補充。
console-problem-case_asks_nothing = 風險凍結個案無需用戶補充資料。
