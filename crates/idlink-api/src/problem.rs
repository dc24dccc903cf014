//! RFC 9457 problem documents: every error idlink answers.
//!
//! A [`Problem`] carries a stable code from [`ProblemCode`] (the registry
//! that `docs/errors.md` mirrors, checked by a test), a message saying what
//! to do next, and the list of individual causes when there are several.
//! Use-case errors become problems in [`crate::errors`]. Handlers
//! return a `Problem` as an empty response carrying it in an extension;
//! [`render_problems`] writes the body there, adding the request id. The
//! same middleware turns any other error response (unknown route, wrong
//! method, body too large, timeout, panic) into a problem document, so no
//! client ever sees a plain-text or empty error.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use idlink_domain::RequestId;
use serde::Serialize;
use utoipa::ToSchema;

/// Declares [`ProblemCode`] from one table: variant, wire code, status, default message.
macro_rules! problem_codes {
    ($($variant:ident = ($code:literal, $status:ident, $message:literal),)*) => {
        /// Every problem code idlink can answer: the registry that `docs/errors.md`
        /// mirrors. A handler names a variant, so an unregistered or misspelt code
        /// does not compile; the wire code (`as_str`) is the stable snake_case string.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ProblemCode {
            $($variant,)*
        }

        impl ProblemCode {
            /// Every code, in the order of the table (and of `docs/errors.md`).
            pub const ALL: &'static [ProblemCode] = &[$(ProblemCode::$variant,)*];

            /// The stable code on the wire, e.g. `step_up_required`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ProblemCode::$variant => $code,)*
                }
            }

            /// The HTTP status every answer with this code has.
            pub const fn status(self) -> StatusCode {
                match self {
                    $(ProblemCode::$variant => StatusCode::$status,)*
                }
            }

            /// When it is answered and what to do: the default `detail`, and the docs' text.
            pub const fn message(self) -> &'static str {
                match self {
                    $(ProblemCode::$variant => $message,)*
                }
            }
        }
    };
}

problem_codes! {
    MalformedJson = ("malformed_json", BAD_REQUEST,
        "The body is not valid JSON. Send a JSON object with `Content-Type: application/json`."),
    InvalidIdempotencyKey = ("invalid_idempotency_key", BAD_REQUEST,
        "The `Idempotency-Key` header must be 1 to 255 visible ASCII characters."),
    SessionRequired = ("session_required", UNAUTHORIZED,
        "This endpoint acts for a user: send the user's session token in the `Idlink-Session` header (from POST /v1/auth/login)."),
    SessionInvalid = ("session_invalid", UNAUTHORIZED, "The session token is unknown, expired or revoked. Log the user in again."),
    OperatorSignInFailed = ("operator_sign_in_failed", UNAUTHORIZED,
        "Username, password or one-time code is wrong, or sign-in is locked for a while after repeated failures (it unlocks by itself, or an admin unlocks it with `idlink operator unlock`). Check the authenticator app's clock and try again later."),
    OperatorSessionInvalid = ("operator_session_invalid", UNAUTHORIZED,
        "Send a valid operator session in the `Idlink-Operator` header (from POST /v1/operator/sessions); it may have expired."),
    Unauthorized = ("unauthorized", UNAUTHORIZED,
        "No valid API key. Send `Authorization: Bearer <key id>.<secret>` with a key made by `idlink apikey create`."),
    ApiKeyRevoked = ("api_key_revoked", UNAUTHORIZED, "The API key was revoked. Create a new one with `idlink apikey create`."),
    ConsentRequired = ("consent_required", FORBIDDEN,
        "The user has not consented to the current text about this kind of personal information (never, to an older version, or withdrawn). Show the text from GET /v1/me/consents and, when the user agrees, POST /v1/me/consents with its kind, version and sha256; then try again."),
    ConsentTextNotCurrent = ("consent_text_not_current", CONFLICT,
        "The version or sha256 is not the current text's: a new version may have been published. Show the current text from GET /v1/me/consents and send its version and sha256."),
    ConsentNotFound = ("consent_not_found", NOT_FOUND,
        "No consent of this kind is in force for the user: there is nothing to withdraw. List the consents with GET /v1/me/consents."),
    ApiKeyExpired = ("api_key_expired", UNAUTHORIZED,
        "The API key expired: it was rotated and its overlap is over, or it was made with an expiry. Use the key that replaced it (`idlink apikey list` shows which), or create a new one with `idlink apikey create`."),
    DeviceCheckRequired = ("device_check_required", FORBIDDEN,
        "This login is from a new device: finish the SMS check (POST /v1/auth/device-check) before using the session."),
    PaymentPasswordRefused = ("payment_password_refused", FORBIDDEN,
        "The payment password was not accepted. After `payment_password.max_failures` wrong passwords in a row (3 by default; the message says how many) it is locked; the user can reset it with an SMS code and a face check."),
    BiometricRefused = ("biometric_refused", FORBIDDEN,
        "The signed assertion was not accepted: unknown or used challenge, another device, or a bad signature. Ask for a new challenge."),
    BalanceQueryDisabled = ("balance_query_disabled", FORBIDDEN,
        "Balance queries are off for this user: they stay off until the user turns them on with PUT /v1/me/features/balance-query and {\"enabled\": true} (the same call with false turns them off again)."),
    AgreementRequired = ("agreement_required", FORBIDDEN,
        "This bank requires a signed electronic agreement with risk notice for the card, for its current version (a new version needs a new signature; the card's authorisations say `agreement_status`). Fetch it with GET /v1/banks/{code}/agreement, show it, and sign its `version` and `sha256` with POST /v1/me/cards/{id}/agreements."),
    BalanceNotDisclosed = ("balance_not_disclosed", FORBIDDEN,
        "This bank does not disclose balances to third parties. Check the balance in the bank's own app."),
    BalanceQuerySuspended = ("balance_query_suspended", LOCKED,
        "The bank suspended balance queries on this card after three wrong card passwords. Reset the password through the bank's own channels; queries resume when the bank reports it."),
    CardReportedLost = ("card_reported_lost", GONE,
        "The bank reports this card lost, so its binding has ended. Bind the replacement card."),
    BankSignatureInvalid = ("bank_signature_invalid", UNAUTHORIZED,
        "The callback's Bank-Signature does not verify under the bank's key (or a header is missing)."),
    BankUnknown = ("bank_unknown", NOT_FOUND, "No bank with this code is in the roster."),
    AgreementNotRequired = ("agreement_not_required", NOT_FOUND,
        "This bank requires no electronic agreement for balance queries (`agreement_required` is false in the card's policy): there is nothing to read or sign."),
    StepUpRequired = ("step_up_required", FORBIDDEN,
        "This operation needs a fresh step-up token for it in the `Idlink-Step-Up` header: verify the payment password or a biometric assertion first. `errors[0].code` says what was wrong with the one sent: step_up_missing, step_up_invalid, step_up_other_use, step_up_spent or step_up_expired."),
    AccountFrozen = ("account_frozen", FORBIDDEN,
        "The account is frozen for a risk review; operators respond within minutes. Sensitive operations are refused until two operators lift the freeze."),
    NotAVerifiedMinor = ("not_a_verified_minor", FORBIDDEN,
        "Only a user verified as under 18 names a guardian. Verify the real-name identity first."),
    CreditReportRestricted = ("credit_report_restricted", FORBIDDEN,
        "The credit report is available from the age of 18 (the capability rule; GET /v1/me/capabilities says so), even with a guardian."),
    DownloadLinkInvalid = ("download_link_invalid", FORBIDDEN,
        "This download link is not valid here: it was altered, or it was made in another session. Ask for a new link in this session (POST /v1/credit-reports/{id}/link)."),
    OperatorRoleRequired = ("operator_role_required", FORBIDDEN, "The operator lacks the role this action needs; the message names it."),
    InsufficientScope = ("insufficient_scope", FORBIDDEN,
        "The API key lacks the scope this endpoint needs; the message names it. Use a key with that scope."),
    NotFound = ("not_found", NOT_FOUND, "No such endpoint. Check the path against /openapi.json."),
    DeviceNotFound = ("device_not_found", NOT_FOUND, "The user has no device with this id. List the devices with GET /v1/me."),
    VerificationNotFound = ("verification_not_found", NOT_FOUND,
        "No verification with this id for this user. Start one with POST /v1/me/verifications."),
    IdentityNotVerified = ("identity_not_verified", NOT_FOUND,
        "The user has no verified real-name identity yet. Verify it with POST /v1/me/verifications."),
    GuardianshipNotFound = ("guardianship_not_found", NOT_FOUND,
        "No guardian link with this id involving this user. List them with GET /v1/me/guardianships."),
    CardBindingNotFound = ("card_binding_not_found", NOT_FOUND,
        "No card binding with this id for this user. List them with GET /v1/me/cards."),
    CreditRequestNotFound = ("credit_request_not_found", NOT_FOUND,
        "No credit-report request with this id for this user. GET /v1/credit-reports lists them."),
    CaseNotFound = ("case_not_found", NOT_FOUND, "No review case with this id. List open cases with GET /v1/operator/reviews."),
    UserNotFound = ("user_not_found", NOT_FOUND, "No user with this id. Check the id returned when the user was created."),
    ReportFileUnknown = ("report_file_unknown", NOT_FOUND,
        "A quarterly report has the files manifest.json, manifest.sig, queries.csv, queries.json, SHA256SUMS and signing-key.pem; ask for one of them."),
    MethodNotAllowed = ("method_not_allowed", METHOD_NOT_ALLOWED,
        "The endpoint exists but not with this HTTP method. The `Allow` header lists the methods it takes."),
    RequestTimeout = ("request_timeout", REQUEST_TIMEOUT,
        "The request took too long and was abandoned. Retry; if it keeps happening, contact the operator."),
    IdempotencyInProgress = ("idempotency_in_progress", CONFLICT,
        "A request with this `Idempotency-Key` is still running. Wait for it, then retry to get its answer."),
    IdempotencyAnswerWithheld = ("idempotency_answer_withheld", CONFLICT,
        "The first request with this `Idempotency-Key` succeeded, but its answer held a one-time secret (a session or step-up token, a challenge) that is never kept, so it is not replayed. The message says where its result is; for a new one, send a new request with a new key."),
    IdempotencyAnswerLost = ("idempotency_answer_lost", CONFLICT,
        "The first request with this `Idempotency-Key` took effect, but the server stopped before it recorded the answer. It will not run again: read the current state instead, or send a new request with a new key."),
    VerificationClosed = ("verification_closed", CONFLICT,
        "This verification is no longer waiting for input (it is processing or finished). Read its status, or start a new one."),
    RealNameChangeLimited = ("real_name_change_limited", CONFLICT,
        "Real-name changes are limited per ID number (a yearly quota, a minimum gap between changes, a cooling-off after an attempt beyond the quota; SPEC ID5 defaults 3, 90 days, 180 days); the message says which rule, with the numbers in force, and from when a change is possible."),
    GuardianshipNotPending = ("guardianship_not_pending", CONFLICT,
        "This guardian link is not waiting for the guardian's acceptance any more."),
    CardAlreadyBound = ("card_already_bound", CONFLICT, "This card is bound to the account already."),
    AgreementVersionNotCurrent = ("agreement_version_not_current", CONFLICT,
        "The `document_version` signed is not the bank's current agreement (a new version may have been published). Fetch GET /v1/banks/{code}/agreement again, show it to the user, and sign its `version` and `sha256`."),
    CardBindingNotPending = ("card_binding_not_pending", CONFLICT, "This binding is not waiting for the bank's code; start a new one."),
    CreditRequestUnderWay = ("credit_request_under_way", CONFLICT,
        "Another credit-report request of this user is under way: follow it with GET /v1/credit-reports, and ask again when it has ended."),
    CreditQuoteChanged = ("credit_quote_changed", CONFLICT,
        "The next report no longer costs what was accepted (a free report was used or freed meanwhile). Get the quote again (GET /v1/credit-reports/quote), show it, and send its `fee_fen` as `accepted_fee_fen`."),
    CreditRequestNotVerifying = ("credit_request_not_verifying", CONFLICT,
        "This request no longer waits for the user's verification (it is being fetched, or it has ended). Read it with GET /v1/credit-reports/{id}."),
    CreditRequestNotInReview = ("credit_request_not_in_review", CONFLICT,
        "This credit-report request is not held for review (it was decided already, perhaps by another operator just now). GET /v1/operator/credit-reviews lists the held ones."),
    CreditReportPurged = ("credit_report_purged", GONE,
        "This report's files were deleted at the end of their retention period (`retention.credit_file_days`). Ask for a new report if you need one."),
    CreditReportNotReady = ("credit_report_not_ready", CONFLICT,
        "The report is not ready: its request's `state` and `expected_at` (GET /v1/credit-reports/{id}) say what it waits for. A link can be made once it is `ready`."),
    CaseClosed = ("case_closed", CONFLICT, "The review case is already decided."),
    CaseNotClaimed = ("case_not_claimed", CONFLICT, "Only the operator who claimed this case can release it; it is not held by you."),
    CaseAwaitingUser = ("case_awaiting_user", CONFLICT,
        "The case waits for the user's answer to a request for more information; it returns to the queue when the user answers."),
    CaseNotHeld = ("case_not_held", CONFLICT,
        "Only the operator who holds the case can ask the user for more information: claim it first (POST /v1/operator/reviews/{case_id}/claim)."),
    CaseAsksNothing = ("case_asks_nothing", CONFLICT,
        "A risk-freeze case asks nothing of the user; only document and guardian cases can request more information."),
    InfoRequestNotFound = ("info_request_not_found", NOT_FOUND,
        "Nothing of this user waits for more information here: no reviewer's request is open on this verification or guardian link."),
    ResidentIdNotResendable = ("resident_id_not_resendable", CONFLICT,
        "A resident ID number cannot be changed in an answer: a new number must pass the registry check. Answer without `document_number`, or start a new verification (POST /v1/me/verifications) with the right number."),
    DocumentNumberTaken = ("document_number_taken", CONFLICT,
        "This document number belongs to another user's verified identity; it cannot be sent in an answer."),
    ReportPeriodOpen = ("report_period_open", CONFLICT,
        "The quarter has not ended yet (in Asia/Shanghai); its report can be generated from the first day of the next quarter, which the message names."),
    SecondOperatorRequired = ("second_operator_required", CONFLICT,
        "You already took a step of this case; a different operator must take the next one (dual control)."),
    DualControlRequired = ("dual_control_required", CONFLICT,
        "Approving a risk-freeze case lifts the freeze, a dual-control action: propose it with POST /v1/operator/proposals (action `freeze.lift`) and have a second operator approve it."),
    ProposalNotFound = ("proposal_not_found", NOT_FOUND,
        "No dual-control proposal with this id. List pending ones with GET /v1/operator/proposals."),
    ProposalDecided = ("proposal_decided", CONFLICT,
        "The proposal was approved or rejected already (perhaps by another operator just now): it cannot be decided again. Read it with GET /v1/operator/proposals/{id}."),
    ProposalExpired = ("proposal_expired", CONFLICT,
        "The proposal's approval window closed before a second operator approved it; nothing ran. Propose the action again."),
    OwnProposal = ("own_proposal", FORBIDDEN,
        "The operator who proposed an action cannot approve it: a second operator must (dual control). The proposer may reject (withdraw) it."),
    OperatorNotFound = ("operator_not_found", NOT_FOUND, "No operator with this id. List operators with GET /v1/operator/operators."),
    KeyRotationUnavailable = ("key_rotation_unavailable", CONFLICT,
        "This server has no master keyring file it may rewrite: rotate with `idlink keys rotate` on the host that holds the file."),
    InstitutionUnknown = ("institution_unknown", UNPROCESSABLE_ENTITY,
        "No institution (or no such channel of it) is known to the connectors. GET /v1/operator/institutions/health lists them."),
    MaintenancePeriodInvalid = ("maintenance_period_invalid", UNPROCESSABLE_ENTITY,
        "A maintenance window must end after it starts and after now, and last at most 7 days."),
    MaintenanceOverlaps = ("maintenance_overlaps", CONFLICT,
        "Another scheduled window on the same institution and channel (or on the whole institution) overlaps this one, so callers would be told two ends. Cancel it first, or schedule an adjacent window."),
    MaintenanceNotFound = ("maintenance_not_found", NOT_FOUND,
        "No scheduled maintenance window with this id, or it was cancelled already. GET /v1/operator/institutions/maintenance lists them."),
    ClientNotFound = ("client_not_found", NOT_FOUND,
        "No third-party app with this id. GET /v1/oauth/clients lists the registered apps."),
    ClientMetadataInvalid = ("client_metadata_invalid", UNPROCESSABLE_ENTITY,
        "The app's registration is not valid; `errors` names each field and what it must be (redirect URIs are absolute https URLs matched exactly, scopes and claims from the lists in docs/oidc.md)."),
    GrantNotFound = ("grant_not_found", NOT_FOUND,
        "No grant with this id for this user, or it was revoked already. GET /v1/me/grants lists the apps the user authorised."),
    ReceiverRefused = ("receiver_refused", UNPROCESSABLE_ENTITY,
        "idlink does not send events to this URL: it must be https (http only in development) and must not point at a loopback, private or link-local address."),
    PhoneTaken = ("phone_taken", CONFLICT, "A user with this phone number exists already. Look it up instead of creating it."),
    DownloadLinkExpired = ("download_link_expired", GONE,
        "This download link has expired (links last 24 hours by default). Ask for a new one with POST /v1/credit-reports/{id}/link."),
    CreditPaymentUnavailable = ("credit_payment_unavailable", SERVICE_UNAVAILABLE,
        "The host app's payment service could not take the payment: nothing was charged and the request was ended. Retry after the Retry-After seconds (quote again first: GET /v1/credit-reports/quote)."),
    CreditPaymentNotOffered = ("credit_payment_not_offered", PAYMENT_REQUIRED,
        "This year's free credit reports are used and this server offers no paid reports (no payment connector is configured). Free reports return on 1 January (Asia/Shanghai); GET /v1/credit-reports/quote shows how many are left."),
    CreditPaymentPending = ("credit_payment_pending", CONFLICT,
        "This request waits for its payment: pay it in the host app's cashier (the request's `payment_id`). Verification opens once the cashier confirms the payment; GET /v1/credit-reports/{id} shows `paid_at`."),
    CreditCardNotBound = ("credit_card_not_bound", UNPROCESSABLE_ENTITY,
        "Verification by bank card needs a card you bound and is still active: GET /v1/me/cards lists them (their `id` is the `binding_id`); bind one with POST /v1/me/cards, or verify by face."),
    CreditCardCodeNotSent = ("credit_card_code_not_sent", CONFLICT,
        "No bank code was sent for this request: ask the bank for one first with POST /v1/credit-reports/{id}/card."),
    PaymentSignatureInvalid = ("payment_signature_invalid", UNAUTHORIZED,
        "The callback's webhook-signature does not verify under the payment webhook secret, its webhook-timestamp is more than five minutes away, or a header is missing."),
    CreditAlertAppNotAuthorised = ("credit_alert_app_not_authorised", UNPROCESSABLE_ENTITY,
        "Credit alerts reach only apps you authorised: each of `apps` must be the `client_id` of one of your active grants (GET /v1/me/grants)."),
    SocialSecurityRegionClosed = ("social_security_region_closed", CONFLICT,
        "The social-security card service is not open in the card's province yet; a card issued there cannot be bound. GET /v1/social-security/regions lists the open provinces."),
    SocialSecurityRegionUnknown = ("social_security_region_unknown", NOT_FOUND,
        "Not a GB/T 2260 area code of a mainland province: send the six-digit issuing area printed on the card (its province's code works too)."),
    SocialSecurityBindingNotFound = ("social_security_binding_not_found", NOT_FOUND,
        "No binding of yours has this id. GET /v1/social-security/bindings lists yours."),
    SocialSecurityBindingUnderWay = ("social_security_binding_under_way", CONFLICT,
        "A binding of yours is under way already: resume it (GET /v1/social-security/bindings) or cancel it (DELETE) before starting another."),
    SocialSecurityStepOutOfOrder = ("social_security_step_out_of_order", CONFLICT,
        "An earlier step of this binding is not done yet. GET the binding: `step` names the one to do now."),
    SocialSecurityBindingFrozen = ("social_security_binding_frozen", CONFLICT,
        "The binding is frozen for a security review (a theft-binding risk); an operator answers within minutes. Nothing can be done on it until then."),
    SocialSecurityBindingEnded = ("social_security_binding_ended", CONFLICT,
        "This binding has ended (bound, cancelled or expired). Start a new one with POST /v1/social-security/bindings if needed."),
    SocialSecurityBindingExpired = ("social_security_binding_expired", CONFLICT,
        "The binding was not finished in time and has expired. Start again with POST /v1/social-security/bindings."),
    SocialSecurityCodeNotSent = ("social_security_code_not_sent", CONFLICT,
        "No code is waiting for this step: none was sent, it was used, or the step's time ran out. Ask for a new code (POST the step again)."),
    SocialSecuritySmsNotOffered = ("social_security_sms_not_offered", CONFLICT,
        "The SMS code stands in for the face check only after a face check failed. Do the face check first."),
    SocialSecurityCardNotFound = ("social_security_card_not_found", UNPROCESSABLE_ENTITY,
        "The bureau has no card of yours with this number. Check the number printed on the card, or scan its QR code."),
    SocialSecurityQrUnreadable = ("social_security_qr_unreadable", UNPROCESSABLE_ENTITY,
        "This QR code is not one printed on a social-security card. Scan the code on the card's back, or type the card number."),
    SocialSecurityCodeWrong = ("social_security_code_wrong", UNPROCESSABLE_ENTITY,
        "The code is wrong. Type the code from the latest SMS, or ask for a new one."),
    SocialSecurityAgreementOutdated = ("social_security_agreement_outdated", CONFLICT,
        "The agreement signed is not the current one. Read GET /v1/social-security/agreement and sign its version and sha256."),
    SocialSecurityCardBoundElsewhere = ("social_security_card_bound_elsewhere", CONFLICT,
        "This card is bound on another account. If it is yours, contact support: the other binding must end first."),
    SocialSecurityAgentNotAdult = ("social_security_agent_not_adult", FORBIDDEN,
        "Binding a card for a relative is for verified adults. The relative can bind their own card, or another adult of the family can help."),
    SocialSecurityHolderUnknown = ("social_security_holder_unknown", NOT_FOUND,
        "No one with a verified real-name identity has this phone (or it is yours). The relative first signs in with their own phone and verifies their identity."),
    SocialSecurityNoAgent = ("social_security_no_agent", CONFLICT,
        "No relative acts on this binding: there is nothing to end."),
    SocialSecurityOnBehalfLimit = ("social_security_on_behalf_limit", TOO_MANY_REQUESTS,
        "This account started as many bindings for relatives as a day allows (each sends the holder an SMS). Retry after `Retry-After`."),
    SocialSecurityHolderOnly = ("social_security_holder_only", FORBIDDEN,
        "Only the card's holder unbinds a bound card: a relative's part ended when the card was bound. Ask the holder to unbind it from their own account."),
    RevocationBlocked = ("revocation_blocked", CONFLICT,
        "Something stands in the way: `errors` lists every blocker (its code, and the action that clears it in `detail`). Clear them, check with GET /v1/me/revocation/preflight, then start again with a fresh step-up."),
    RevocationRunning = ("revocation_running", CONFLICT,
        "A revocation or cancellation of this account is already running: follow it with GET /v1/me/revocations/latest."),
    RevocationReviewNotNeeded = ("revocation_review_not_needed", CONFLICT,
        "Only a minor's or a foreign document holder's request is reviewed before a revocation or cancellation, and this one needs no review now (or its approval still holds). Check GET /v1/me/revocation/preflight."),
    RevocationGuardianRequired = ("revocation_guardian_required", CONFLICT,
        "A minor's request is reviewed with their guardian's evidence: name a guardian (POST /v1/me/guardianships) and wait for the link's approval, then ask for the review again."),
    RevocationNotFound = ("revocation_not_found", NOT_FOUND,
        "This account has no revocation or cancellation. Check what stands in the way with GET /v1/me/revocation/preflight, then start one with POST /v1/me/revocations."),
    SocialSecurityCardHeld = ("social_security_card_held", CONFLICT,
        "The social-security bureau holds this card (reported lost or stolen). Only a social-security counter can release it: take the card and your ID there."),
    SocialSecurityBindingConflict = ("social_security_binding_conflict", CONFLICT,
        "Another device moved this binding at the same moment. GET it again and continue from its current step."),
    SocialSecurityFeatureNotBound = ("social_security_feature_not_bound", CONFLICT,
        "The card is not bound, or was bound without the feature this needs (pension_query, medical_account, medical_payment, unemployment_alerts)."),
    MedicalCodeInvalid = ("medical_code_invalid", UNPROCESSABLE_ENTITY,
        "Not a medical-insurance code of this server (a compact JWS typed idlink-medcode+jwt, signed with a key of its JWK Set). Ask the patient to show the code in their app again."),
    MedicalCodeExpired = ("medical_code_expired", GONE,
        "The code has expired (a code lives 60 seconds; a screenshot shown later is refused). Ask the patient to show the live code in their app."),
    MedicalCodeUsed = ("medical_code_used", CONFLICT,
        "This code was used already: each code pays once. Ask the patient to show the next code in their app."),
    MedicalPaymentPending = ("medical_payment_pending", CONFLICT,
        "This terminal's payment with this code is past its window and is being settled or voided with the bureau. Ask again after `Retry-After`; do not charge the patient with another code meanwhile."),
    MedicalPaymentVoided = ("medical_payment_voided", CONFLICT,
        "This terminal's payment with this code was not made, and the bureau has voided it for good. Ask the patient for a fresh code to charge."),
    MedicalPaymentRefused = ("medical_payment_refused", UNPROCESSABLE_ENTITY,
        "The social-security bureau refused this payment; nothing was paid. The code is spent: ask the patient to pay another way or at the counter."),
    MedicalCardUnusable = ("medical_card_unusable", CONFLICT,
        "The card behind this code cannot pay now (not bound, or bound without the medical-payment feature)."),
    SocialSecurityBureauUndecided = ("social_security_bureau_undecided", SERVICE_UNAVAILABLE,
        "The social-security bureau answered without deciding. Retry the step in a moment."),
    CertificateNotAccepted = ("certificate_not_accepted", UNPROCESSABLE_ENTITY,
        "This server trusts no certificate authority for digital certificates. Verify by face or by a bound bank card."),
    CertificateInvalid = ("certificate_invalid", UNPROCESSABLE_ENTITY,
        "`certificate_pem` is not an X.509 certificate. Send the PEM (-----BEGIN CERTIFICATE-----) your certificate authority issued."),
    CertificateUntrusted = ("certificate_untrusted", UNPROCESSABLE_ENTITY,
        "The certificate is not issued by a certificate authority this server trusts, is not valid now, or is not for client authentication. Use a current certificate from your certificate authority."),
    CertificateOtherHolder = ("certificate_other_holder", UNPROCESSABLE_ENTITY,
        "The certificate does not name you (its subjectAltName must hold urn:idlink:user:{your user id}). Use a certificate issued to you."),
    CertificateAlreadyRegistered = ("certificate_already_registered", CONFLICT,
        "This certificate is registered already. GET /v1/me/certificates lists yours."),
    CertificateNotFound = ("certificate_not_found", NOT_FOUND,
        "No active certificate of yours has this fingerprint. GET /v1/me/certificates lists yours; register one with POST /v1/me/certificates."),
    CreditCertificateNotFirstUse = ("credit_certificate_not_first_use", CONFLICT,
        "A digital certificate cannot be the first verification: verify one request by face or by a bound bank card first (SPEC CR1), then certificates can be used."),
    CertificateChallengeMissing = ("certificate_challenge_missing", CONFLICT,
        "No certificate challenge is open for this request: ask for one with POST /v1/credit-reports/{id}/certificate/challenge."),
    CertificateChallengeExpired = ("certificate_challenge_expired", GONE,
        "The certificate challenge expired (it lasts 120 seconds). Ask for a new one and sign it at once."),
    CertificateSignatureInvalid = ("certificate_signature_invalid", UNPROCESSABLE_ENTITY,
        "The signature does not verify with the certificate's key: sign the challenge's `message` bytes with ECDSA P-256/SHA-256 and send the signature in base64 (64-byte r||s as WebCrypto gives it, or ASN.1 DER). Three failed attempts end the request."),
    ChallengeGone = ("challenge_gone", GONE, "The code expired, was already used, or ran out of tries. Request a new code."),
    UserDataShredded = ("user_data_shredded", GONE, "The user's personal data was deleted (crypto-shredded) and cannot be read any more."),
    PayloadTooLarge = ("payload_too_large", PAYLOAD_TOO_LARGE, "The body is larger than the server accepts. Send a smaller body."),
    UnsupportedMediaType = ("unsupported_media_type", UNSUPPORTED_MEDIA_TYPE,
        "Send the body as JSON with `Content-Type: application/json`."),
    PagingPhoneRequired = ("paging_phone_required", UNPROCESSABLE_ENTITY,
        "An operator on duty is paged by SMS and has no paging phone yet: send `phone` with `on_duty: true`."),
    IdempotencyKeyReused = ("idempotency_key_reused", UNPROCESSABLE_ENTITY,
        "This `Idempotency-Key` was used with a different request. Use a new key for a new request."),
    CodeWrong = ("code_wrong", UNPROCESSABLE_ENTITY,
        "The SMS code is wrong; the message says how many tries are left. Check the code and try again."),
    WeakPaymentPassword = ("weak_payment_password", UNPROCESSABLE_ENTITY,
        "The payment password must be 6 digits, not one digit repeated and not a run like 123456. Choose another."),
    FaceCheckRequired = ("face_check_required", UNPROCESSABLE_ENTITY,
        "A payment password exists already: resetting it needs a face check or a bank-card check. Send `liveness_video` or `card_number` too."),
    BankCardCheckFailed = ("bank_card_check_failed", UNPROCESSABLE_ENTITY,
        "The bank did not confirm that the card, the verified identity and the account's phone belong together; `errors` says why."),
    FaceCheckFailed = ("face_check_failed", UNPROCESSABLE_ENTITY,
        "The face check did not pass; `errors` gives the reason and what to do (for example retry in daylight)."),
    AgreementHashMismatch = ("agreement_hash_mismatch", UNPROCESSABLE_ENTITY,
        "`document_hash` is not the SHA-256 of the bank's current agreement: the text shown is not the one published. Show the `text` of GET /v1/banks/{code}/agreement unchanged and sign its `sha256`."),
    BankCodeWrong = ("bank_code_wrong", UNPROCESSABLE_ENTITY,
        "The bank did not accept the code. Check the SMS from the bank and try again."),
    ReservedPhoneMismatch = ("reserved_phone_mismatch", UNPROCESSABLE_ENTITY,
        "The bank has another phone on record for this card. Use that phone, or update it at the bank."),
    SmsUndeliverable = ("sms_undeliverable", UNPROCESSABLE_ENTITY,
        "The operator could not deliver an SMS to this number. Check the number or use another phone."),
    GuardianNotEligible = ("guardian_not_eligible", UNPROCESSABLE_ENTITY,
        "The guardian must be another user whose real-name identity is verified as an adult. Ask them to register and verify first."),
    ValidationFailed = ("validation_failed", UNPROCESSABLE_ENTITY,
        "Some fields are missing or invalid; `errors` lists each one with what to fix."),
    RateLimited = ("rate_limited", TOO_MANY_REQUESTS, "Too many requests. Wait the number of seconds in `Retry-After`, then retry."),
    InternalError = ("internal_error", INTERNAL_SERVER_ERROR,
        "Something failed inside idlink. Retry later; the request id identifies the failure in the logs."),
    InstitutionUnavailable = ("institution_unavailable", SERVICE_UNAVAILABLE,
        "An institution idlink depends on (SMS gateway, bank, bureau) is down or in maintenance. Retry after `Retry-After` seconds."),
    BankUnavailable = ("bank_unavailable", SERVICE_UNAVAILABLE,
        "The bank is temporarily unavailable (maintenance or outage) on every channel. Retry after `Retry-After` seconds; `expected_end` says when the bank expects to be back."),
    ServiceUnavailable = ("service_unavailable", SERVICE_UNAVAILABLE,
        "A dependency (database, key store or institution) is unavailable. Retry after `Retry-After` seconds."),
}

impl ProblemCode {
    /// The code with this wire form, if it is registered.
    pub fn parse(code: &str) -> Option<ProblemCode> {
        Self::ALL.iter().copied().find(|c| c.as_str() == code)
    }
}

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ProblemCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One cause of a failure: which input, what is wrong, what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// JSON Pointer (RFC 6901) to the offending field, e.g. `/phone`; `` for the whole body.
    pub pointer: String,
    /// Machine code of this cause, e.g. `required`, `invalid_type`, `invalid_phone`.
    pub code: String,
    pub detail: String,
}

impl FieldError {
    pub fn new(pointer: impl Into<String>, code: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { pointer: pointer.into(), code: code.into(), detail: detail.into() }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// `https://idlink.dev/problems/<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    /// What went wrong and what to do next.
    pub detail: String,
    /// Stable machine-readable code, listed in docs/errors.md.
    #[schema(value_type = String)]
    pub code: ProblemCode,
    /// The request id, also in the `x-request-id` header; quote it to the operator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Every individual cause, when there are several.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For an announced maintenance: when the institution expects to be back (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_end: Option<String>,
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    /// A problem with its code's status and default message.
    pub fn new(code: ProblemCode) -> Self {
        let status = code.status();
        Self {
            type_uri: format!("https://idlink.dev/problems/{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: code.message().to_owned(),
            code,
            request_id: None,
            errors: Vec::new(),
            expected_end: None,
            retry_after: None,
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    pub fn errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    pub fn expected_end(mut self, at: Option<jiff::Timestamp>) -> Self {
        self.expected_end = at.map(|t| t.to_string());
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let n = errors.len();
        let detail = if n == 1 {
            format!("{} Fix it and send the request again.", errors.first().map(|e| e.detail.as_str()).unwrap_or(""))
        } else {
            format!("{n} fields are missing or invalid; `errors` lists each. Fix them and send the request again.")
        };
        Problem::new(ProblemCode::ValidationFailed).detail(detail).errors(errors)
    }

    fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// The finished response, body included.
    pub fn into_body_response(self) -> Response {
        let status = self.status();
        let retry = self.retry_after;
        let body = serde_json::to_vec(&self).unwrap_or_else(|_| b"{\"code\":\"internal_error\"}".to_vec());
        let mut res = Response::new(Body::from(body));
        *res.status_mut() = status;
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(s) = retry {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        res
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut res = Response::new(Body::empty());
        *res.status_mut() = self.status();
        res.extensions_mut().insert(self);
        res
    }
}

/// Renders problems with their request id, and turns bare error responses into problems.
pub async fn render_problems(req: Request, next: Next) -> Response {
    let request_id = req.extensions().get::<RequestId>().map(|r| r.to_string());
    let mut res = next.run(req).await;
    if res.extensions().get::<Verbatim>().is_some() {
        return res;
    }
    if let Some(mut problem) = res.extensions_mut().remove::<Problem>() {
        problem.request_id = request_id;
        return with_headers_of(problem.into_body_response(), &res);
    }
    let status = res.status();
    let is_problem = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if (status.is_client_error() || status.is_server_error()) && !is_problem {
        // Statuses are open-ended: any other one is a failure inside idlink.
        let code = match status {
            StatusCode::NOT_FOUND => ProblemCode::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => ProblemCode::MethodNotAllowed,
            StatusCode::REQUEST_TIMEOUT => ProblemCode::RequestTimeout,
            StatusCode::PAYLOAD_TOO_LARGE => ProblemCode::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ProblemCode::UnsupportedMediaType,
            StatusCode::TOO_MANY_REQUESTS => ProblemCode::RateLimited,
            StatusCode::SERVICE_UNAVAILABLE => ProblemCode::ServiceUnavailable,
            StatusCode::BAD_REQUEST => ProblemCode::MalformedJson,
            StatusCode::UNAUTHORIZED => ProblemCode::Unauthorized,
            _ => ProblemCode::InternalError,
        };
        let mut problem = Problem::new(code);
        problem.request_id = request_id;
        return with_headers_of(problem.into_body_response(), &res);
    }
    res
}

/// Marks a response whose error body another standard defines (OAuth 2.0's
/// `{"error":…}` of RFC 6749 §5.2, RFC 6750's `WWW-Authenticate`, RFC 8935's
/// `{"err":…}`): [`render_problems`] leaves it as it is (ADR 0021).
#[derive(Debug, Clone, Copy)]
pub struct Verbatim;

/// Keeps headers the original response set (`Allow`, `Retry-After`, `WWW-Authenticate`, `Idempotent-Replayed`).
fn with_headers_of(mut new: Response, old: &Response) -> Response {
    let replayed = header::HeaderName::from_static(crate::middleware::REPLAYED_HEADER);
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE, replayed] {
        if let Some(v) = old.headers().get(&name) {
            new.headers_mut().insert(name, v.clone());
        }
    }
    new
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `MalformedJson` → `malformed_json`.
    fn snake_case(variant: &str) -> String {
        let mut out = String::new();
        for (i, c) in variant.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    }

    #[test]
    fn every_wire_code_spells_its_variant_once() {
        let mut seen = std::collections::HashSet::new();
        for code in ProblemCode::ALL {
            assert_eq!(code.as_str(), snake_case(&format!("{code:?}")), "{code:?}");
            assert!(seen.insert(code.as_str()), "{code} registered twice");
            assert_eq!(ProblemCode::parse(code.as_str()), Some(*code));
            assert!(code.message().ends_with('.'), "{code}: a message is a sentence");
        }
        assert_eq!(ProblemCode::parse("phone_takne"), None);
    }

    #[test]
    fn a_problem_takes_status_and_message_from_its_code() {
        let p = Problem::new(ProblemCode::BalanceQuerySuspended);
        let body = serde_json::to_value(&p).unwrap_or_default();
        assert_eq!(body["type"], "https://idlink.dev/problems/balance_query_suspended");
        assert_eq!(body["title"], "Locked");
        assert_eq!(body["status"], 423);
        assert_eq!(body["code"], "balance_query_suspended");
        assert_eq!(body["detail"], ProblemCode::BalanceQuerySuspended.message());
        assert_eq!(p.into_body_response().status(), StatusCode::LOCKED);
    }
}
