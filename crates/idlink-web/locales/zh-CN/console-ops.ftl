## Key status, who is on duty, and asking the user for more information.
console-nav-keys = 密钥状态
console-nav-duty = 值班

## 请用户补充材料（ADR 0019）。
console-status-waiting_user = 等待用户补充
console-sla-paused = 等待用户补充期间暂停计时
console-info-reason-document_unreadable = 证件无法辨认
console-info-reason-document_expired = 证件已过期
console-info-reason-photo_page_missing = 缺少证件照片页
console-info-reason-guardian_proof_missing = 缺少监护关系证明
console-history-asked = 请用户补充材料：{ $reason }
console-history-answered = 已回复补充请求
console-the-user = 用户
console-waiting-user = 等待用户补充：{ $reason }。
console-waiting-since = 于 { $time } 发出请求；用户回复后重新开始计时。
console-ask-legend = 请用户补充材料
console-ask-hint = 用户回复前，该案件离开审核队列；用户会以其语言看到原因。
console-info-reason = 缺少的内容
console-ask-note = 给用户的说明（可选）
console-ask = 请用户补充
console-done-asked = 已请用户补充材料；用户回复后案件回到审核队列。
console-field-info-reason-required = 请先选择缺少的内容，再请用户补充。
console-problem-case_awaiting_user = 该案件正在等待用户补充材料，用户回复后回到审核队列。
console-problem-case_not_held = 请先认领该案件：只有持有案件的审核员才能请用户补充。
console-problem-case_asks_nothing = 风险冻结案件无需用户补充材料。
