## Key status, who is on duty, and asking the user for more information.
console-nav-keys = Keys
console-nav-duty = On duty

## Asking the user for more information (ADR 0019).
console-status-waiting_user = Waiting for the user
console-sla-paused = Paused while the user answers
console-info-reason-document_unreadable = Document unreadable
console-info-reason-document_expired = Document expired
console-info-reason-photo_page_missing = Photo page missing
console-info-reason-guardian_proof_missing = Proof of guardianship missing
console-history-asked = asked the user for more information: { $reason }
console-history-answered = answered the request
console-the-user = The user
console-waiting-user = Waiting for the user's answer: { $reason }.
console-waiting-since = Asked on { $time }; the SLA starts again when the user answers.
console-ask-legend = Ask the user for more information
console-ask-hint = The case leaves the queue until the user answers; they see the reason in their language.
console-info-reason = What is missing
console-ask-note = Words to the user (optional)
console-ask = Ask the user
console-done-asked = The user is asked for more information; the case comes back to the queue when they answer.
console-field-info-reason-required = Choose what is missing before asking the user.
console-problem-case_awaiting_user = This case waits for the user's answer; it comes back to the queue when they answer.
console-problem-case_not_held = Claim the case first: only the reviewer who holds it can ask the user.
console-problem-case_asks_nothing = A risk freeze asks nothing of the user.
