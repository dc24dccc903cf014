## Key status, who is on duty, and asking the user for more information.
console-nav-keys = Keys
console-nav-duty = On duty

## Key status.
console-keys-title = Key status
console-keys-intro = No key is ever shown here: each is named by its id and fingerprint. Compare the fingerprints with the ones the key custodians recorded.
console-keys-missing = Some stored keys are wrapped by a master key the keyring does not hold: they cannot be unwrapped. Restore that master key to the keyring file (or combine its shares) before anything else.
console-keys-masters = Master keys
console-keys-algorithm = Encryption: { $algorithm }
console-keys-id = Key
console-keys-fingerprint = Fingerprint
console-keys-state = State
console-keys-wrapped = Wraps
console-keys-active = Active: new keys are wrapped under it
console-keys-retired = Retired: kept to unwrap older keys
console-keys-wraps = { $n ->
    [one] { $n } data key
   *[other] { $n } data keys
}
console-keys-rotated = Last master-key rotation: { $time }, by { $actor } ({ $outcome }).
console-keys-never-rotated = The master key has not been rotated yet.
console-keys-propose = Propose a master-key rotation (a second admin approves it)
console-keys-system = System keys
console-keys-purpose = Key
console-keys-wrapped-by = Wrapped by master key
console-keys-not-stored = not stored yet
console-keys-sys-blind-index = Blind-index key: looks up phones, ID numbers and card numbers without decrypting them
console-keys-sys-audit-signing = Audit signing key (Ed25519): signs the audit checkpoints and the regulator reports
console-keys-sys-idempotent-answers = Seals the answers kept for safe retries
console-keys-sys-outbox = Seals the events waiting in the outbox
console-keys-signing = Audit signing key
console-keys-signing-intro = The public half, in hex. Checkpoints and regulator reports verify against it (docs/regulator-report.md shows how).
console-keys-checkpoint = Latest signed checkpoint: record { $seq }, { $time }; signature { $signature }.
console-keys-no-checkpoint = No checkpoint is signed yet (the first one follows the first audit records).
console-keys-signature-valid = valid
console-keys-signature-invalid = INVALID: run the chain check in the audit explorer

## Operators and who is on duty.
console-duty-title = Operators on duty
console-duty-intro = A case past its SLA pages the operators on duty whose role can act on it, once, by SMS. The paging phone is sealed when saved and never shown again.
console-duty-operator = Operator
console-duty-roles = Roles
console-duty-duty = Duty
console-duty-sign-in = Sign-in
console-duty-actions = Actions
console-duty-on = On duty
console-duty-off = Off duty
console-duty-phone-set = paging phone set
console-duty-no-phone = no paging phone
console-duty-locked = Locked until { $time } after repeated failures
console-duty-failures = { $n ->
    [one] { $n } failed sign-in
   *[other] { $n } failed sign-ins
}
console-duty-can-sign-in = Can sign in
console-duty-phone = Paging phone (mainland mobile)
console-duty-new-phone = New paging phone (leave empty to keep the one set)
console-duty-put-on = Put on duty
console-duty-take-off = Take off duty
console-duty-unlock = Unlock sign-in now
console-duty-bad-phone = Enter a mainland mobile number of 11 digits, such as 13800138000.
console-duty-phone-needed = Enter the phone to page: an operator on duty without one could not be reached.
console-duty-done-on = { $name } is on duty and will be paged when a case breaches its SLA.
console-duty-done-off = { $name } is off duty.
console-duty-done-unlocked = { $name } can sign in again.

## Asking the user for more information (ADR 0019).
console-status-waiting_user = Waiting for the user
console-sla-paused = Paused while the user answers
console-info-reason-document_unreadable = Document unreadable
console-info-reason-document_expired = Document expired
console-info-reason-photo_page_missing = Photo page missing
console-info-reason-guardian_proof_missing = Proof of guardianship missing
console-history-asked = asked the user for more information: { $reason }
console-history-answered = answered the request
console-history-answered-document = answered the request and sent a new document number (earlier steps are void)
console-history-answered-evidence = answered the request and sent new guardian evidence (earlier steps are void)
console-history-approved-voided = approved step { $step } (void: the user sent new evidence since)
console-history-rejected-voided = rejected step { $step } (void: the user sent new evidence since)
console-answer-unavailable = (the user's words are no longer available: their data was deleted)
console-answer-reviewers-only = (the user's words are shown to reviewers only)
console-note-reviewers-only = (the note to the user is shown to reviewers only)
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
