## The operator console (SPEC P5, OP1): frame, sign-in, review queue, case.

console-name = idlink operator console
console-skip = Skip to the content
console-nav-label = Console sections
console-nav-cases = Review queue
console-lang-label = Language
console-signed-in-as = Signed in as { $name }
console-sign-out = Sign out
console-back-to-queue = Back to the review queue
console-page-not-found = There is no such console page. Go back to the review queue.
console-role-reviewer = reviewer
console-role-auditor = auditor
console-role-admin = administrator

console-sign-in-title = Operator sign-in
console-sign-in-intro = Sign in with your operator username, your password and the 6-digit code from your authenticator app.
console-username = Username
console-password = Password
console-totp = One-time code
console-totp-hint = 6 digits from your authenticator app; a new one every 30 seconds.
console-sign-in = Sign in
console-sign-in-refused = The username, password or one-time code is wrong, or sign-in is locked for a while after repeated failures. Check them and try again; if it keeps failing, wait { $minutes } minutes or ask an administrator to unlock you.
console-field-username-required = Enter your operator username.
console-field-password-required = Enter your password.
console-field-totp-format = Enter the 6 digits your authenticator app shows now.
console-field-reason-required = Choose a reason for the rejection from the list, then reject again.

console-problem-operator_sign_in_failed = The username, password or one-time code is wrong, or sign-in is locked for a while after repeated failures. Check them and try again; if it keeps failing, wait for the lock to end or ask an administrator to unlock you.
console-problem-operator_session_invalid = Your console session ended (idle too long or past its limit). Sign in again.
console-problem-operator_role_required = Your role does not allow this. Reviewers decide cases; auditors can only read them. Ask an administrator if you need another role.
console-problem-case_not_found = There is no review case with this id. Go back to the queue and open it from there.
console-problem-case_closed = This case is already decided; nothing more can be done on it.
console-problem-second_operator_required = You already took a step of this case. Dual control: a different reviewer must take the next step.
console-problem-csrf = This form was not accepted: it is out of date or came from another site. Go back, reload the page and send it again.
console-problem-case_not_claimed = Only the reviewer who claimed this case can release it, and you do not hold it.

console-cases-title = Review queue
console-filter-kind = Kind
console-filter-status = Status
console-filter-assignee = Assigned to
console-filter-breached = Only cases past their SLA
console-filter-apply = Show cases
console-filter-any = Any kind
console-filter-anyone = Anyone or no one
console-filter-me = Me
console-unassigned = Not claimed
console-kind-verification = Identity document
console-kind-risk_freeze = Risk freeze
console-kind-guardian = Minor and guardian
console-what-verification = A real-name verification the automatic checks could not decide (a foreign document or an unclear result). Approving verifies the user.
console-what-risk_freeze = An account frozen by the risk checks. Approving lifts the freeze.
console-what-guardian = A guardian link for a minor and its evidence. Approving confirms the guardian.
console-status-open = Open
console-status-approved = Approved
console-status-rejected = Rejected
console-steps = { $text } steps
console-span-days = { $n ->
    [one] 1 day
   *[other] { $n } days
}
console-span-hours = { $n } h
console-span-minutes = { $n } min
console-span-sep = { " " }
console-sla-left = { $span } left
console-sla-breached = SLA breached { $span } ago
console-sla-breached-badge = Breached
console-sla-answered = Answered within the SLA
console-sla-closed = Decided
console-sla-due = due { $time }
console-refreshed = Updated { $time }; refreshes every 30 seconds.
console-refresh = Refresh now
console-no-cases = No cases match these filters.
console-cases-count = { $n ->
    [one] 1 case
   *[other] { $n } cases
}
console-col-case = Case
console-col-kind = Kind
console-col-subject = User
console-col-assignee = Claimed by
console-col-steps = Steps
console-col-opened = Opened
console-col-sla = First-response SLA
console-subject-words = user id ending { $tail }

console-case-title = Review case
console-reviewed = Under review
console-reference = reference { $reference }
console-actions = Actions
console-claim = Claim this case
console-release = Release to the queue
console-approve-legend = Approve
console-approve = Approve
console-reject-legend = Reject
console-reject = Reject
console-reason = Reason
console-reason-choose = Choose a reason
console-reason-document_unreadable = Document unreadable
console-reason-document_mismatch = Document does not match the details
console-reason-evidence_insufficient = Evidence insufficient
console-reason-suspected_fraud = Suspected fraud
console-reason-other = Other (see the note)
console-note = Note (optional)
console-read-only = You can read this case; only a reviewer can claim or decide it.
console-history = History
console-history-empty = Nothing has happened on this case yet.
console-history-approved = approved step { $step }
console-history-rejected = rejected (step { $step })
console-history-claimed = claimed the case
console-history-released = released the case
console-done-claimed = You claimed this case.
console-done-released = You released this case to the queue.
console-done-approved = Approved: the case is closed.
console-done-rejected = Rejected: the case is closed.
console-done-step = Your approval is recorded. A second reviewer must now take the next step.

console-nav-breaches = Breach board
console-breaches-title = SLA breaches
console-breaches-intro = Open cases past their first-response time, most overdue first. Each breach pages the operators on duty once, by SMS.
console-breaches-empty = No case is past its SLA.
console-breaches-case = Case
console-breaches-kind = Kind
console-breaches-how-late = Overdue by
console-breaches-paged-col = Escalation
console-breaches-overdue = { $span } overdue
console-breaches-paged = On-duty operators paged at { $time }
console-breaches-not-paged = Not paged yet (the next SLA check pages them)
