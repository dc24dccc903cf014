//! From use-case errors to problem documents: every mapping, in one place.
//!
//! Each error type of `idlink-core` converts into a [`Problem`] through
//! `From`, so a handler ends a use-case call with `?`. Every `match` here
//! names each variant (no catch-all): a new variant in core fails to compile
//! until it has a code and a message. Use-case errors are flat: besides
//! their own variants they hold only leaf types (`StoreError`,
//! `CryptoError`, `HashError`, and the refusals of shared steps such as
//! `CodeRefusal`, `Unreadable`, `Frozen`, `CardNotProven`), each mapped once
//! below, so the mappings form a tree one level deep, not a circle.
//!
//! Failures inside idlink are logged with their cause and answered with the
//! registry's generic message of their code: nothing internal reaches the
//! client, and the request id ties the answer to the log line.

use crate::problem::{FieldError, Problem, ProblemCode};
use crate::routes::banks::agreement_url;
use idlink_core::agreements::DocumentError;
use idlink_core::apikeys::AuthFailure;
use idlink_core::audit::AuditError;
use idlink_core::auth::AuthError;
use idlink_core::balance::BalanceError;
use idlink_core::bindings::BindingError;
use idlink_core::credit::CreditError;
use idlink_core::dual::DualControlError;
use idlink_core::guardians::GuardianError;
use idlink_core::identity::IdentityError;
use idlink_core::institutions::MaintenanceError;
use idlink_core::medical_code::Refusal as MedicalRefusal;
use idlink_core::medical_payment::MedicalError;
use idlink_core::operators::OperatorError;
use idlink_core::payment::HashError;
use idlink_core::ports::StoreError;
use idlink_core::ports::auth::SendError;
use idlink_core::ports::bindings::BankUnavailable;
use idlink_core::ports::bureau::BureauUnavailable;
use idlink_core::ports::face::FaceUnavailable;
use idlink_core::ports::identity::RegistryUnavailable;
use idlink_core::ports::operators::RoleRequired;
use idlink_core::reviews::{InfoAnswerError, ReviewError};
use idlink_core::security::SecurityError;
use idlink_core::social_security::SsError;
use idlink_core::steps::cards::CardNotProven;
use idlink_core::steps::codes::{CodeLimit, CodeRefusal};
use idlink_core::steps::personal::Unreadable;
use idlink_core::steps::risk::Frozen;
use idlink_core::stepup::StepUpRefusal;
use idlink_core::users::UserError;
use idlink_crypto::CryptoError;
use idlink_domain::ss_binding::{Refusal, Status};
use idlink_domain::verification::VerificationReason;

/// A failure inside idlink: logged with its cause, answered without it.
pub fn internal(cause: &dyn std::fmt::Display, what: &str) -> Problem {
    tracing::error!(error = %cause, "{what}");
    Problem::new(ProblemCode::InternalError)
}

/// A store failure in a layer that runs before any use case (authentication,
/// the idempotency claim): whatever its kind, nothing happened and the client may retry.
pub fn gate_failure(e: &StoreError, what: &str) -> Problem {
    tracing::error!(error = %e, "{what}");
    Problem::new(ProblemCode::ServiceUnavailable).retry_after(5)
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(detail) => {
                tracing::error!(%detail, "database unavailable");
                Problem::new(ProblemCode::ServiceUnavailable).retry_after(5)
            }
            StoreError::Unique(rule) => {
                tracing::error!(%rule, "unexpected uniqueness conflict");
                Problem::new(ProblemCode::InternalError)
            }
            StoreError::Corrupt(detail) => {
                tracing::error!(%detail, "stored data is corrupt");
                Problem::new(ProblemCode::InternalError)
            }
        }
    }
}

impl From<CryptoError> for Problem {
    fn from(e: CryptoError) -> Self {
        internal(&e, "decryption failed")
    }
}

/// A server fault (a cost Argon2 refuses, a failed hashing thread), not the caller's.
impl From<HashError> for Problem {
    fn from(e: HashError) -> Self {
        internal(&e, "password hashing failed")
    }
}

impl From<Unreadable> for Problem {
    fn from(e: Unreadable) -> Self {
        match e {
            Unreadable::UserNotFound => Problem::new(ProblemCode::UserNotFound),
            Unreadable::Shredded => Problem::new(ProblemCode::UserDataShredded),
        }
    }
}

impl From<UserError> for Problem {
    fn from(e: UserError) -> Self {
        match e {
            UserError::PhoneTaken => Problem::new(ProblemCode::PhoneTaken).detail(format!("{e}.")),
            UserError::Unreadable(e) => e.into(),
            UserError::Crypto(e) => e.into(),
            UserError::Store(e) => e.into(),
        }
    }
}

impl From<CodeRefusal> for Problem {
    fn from(e: CodeRefusal) -> Self {
        match e {
            CodeRefusal::RateLimited { retry_after_secs, rule } => {
                let why = match rule {
                    CodeLimit::ResendInterval => "A code was sent to this number moments ago",
                    CodeLimit::PerPhone => "Too many codes were sent to this number this hour",
                    CodeLimit::PerNetwork => "Too many codes were requested from this network this hour",
                    CodeLimit::OnBehalf => "Too many social-security bindings were started for relatives from this account today",
                };
                Problem::new(ProblemCode::RateLimited)
                    .detail(format!("{why}. Retry in {retry_after_secs} s."))
                    .retry_after(retry_after_secs)
            }
            CodeRefusal::WrongCode { remaining } => Problem::new(ProblemCode::CodeWrong)
                .detail(format!("The code is wrong; {remaining} tries left. Check the SMS and try again.")),
            CodeRefusal::ChallengeGone => Problem::new(ProblemCode::ChallengeGone),
            CodeRefusal::SessionInvalid => Problem::new(ProblemCode::SessionInvalid),
        }
    }
}

impl From<AuthError> for Problem {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Code(e) => e.into(),
            AuthError::SessionInvalid => Problem::new(ProblemCode::SessionInvalid),
            AuthError::DeviceCheckRequired => Problem::new(ProblemCode::DeviceCheckRequired),
            AuthError::ConcurrentSignUp => Problem::new(ProblemCode::PhoneTaken).detail(format!("{e}.")),
            AuthError::Send(e) => e.into(),
            AuthError::Crypto(e) => e.into(),
            AuthError::Store(e) => e.into(),
        }
    }
}

impl From<SendError> for Problem {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Rejected => Problem::new(ProblemCode::SmsUndeliverable),
            SendError::Unavailable { retry_after_secs } => Problem::new(ProblemCode::InstitutionUnavailable)
                .detail(format!("The SMS gateway is unavailable. Retry in {retry_after_secs} s."))
                .retry_after(retry_after_secs),
        }
    }
}

/// Processing refused for want of the user's consent: names the kind, its
/// state and the version to consent to.
impl From<idlink_core::consents::ConsentMissing> for Problem {
    fn from(m: idlink_core::consents::ConsentMissing) -> Self {
        let why = match m.state {
            "withdrawn" => "was withdrawn",
            "outdated" => "was given to an older version of the text",
            _ => "was never given",
        };
        Problem::new(ProblemCode::ConsentRequired)
            .detail(format!(
                "The user's consent to the processing of their {} {why}. Show the current text (version {}) from GET /v1/me/consents and, when the user agrees, POST /v1/me/consents; then try again.",
                m.kind.as_str().replace('_', " "),
                m.version
            ))
            .errors(vec![FieldError::new("/kind", m.state, m.kind.as_str())])
    }
}

impl From<idlink_core::consents::ConsentError> for Problem {
    fn from(e: idlink_core::consents::ConsentError) -> Self {
        use idlink_core::consents::ConsentError;
        match e {
            ConsentError::UnknownKind(_) => Problem::new(ProblemCode::ValidationFailed)
                .detail(e.to_string())
                .errors(vec![FieldError::new("/kind", "invalid_kind", e.to_string())]),
            ConsentError::UnknownLocale(_) => Problem::new(ProblemCode::ValidationFailed)
                .detail(e.to_string())
                .errors(vec![FieldError::new("/locale", "invalid_locale", e.to_string())]),
            ConsentError::NotCurrent { version, ref sha256 } => Problem::new(ProblemCode::ConsentTextNotCurrent)
                .detail(format!("The current text is version {version} with sha256 {sha256}: show it to the user and send these.")),
            ConsentError::Store(e) => e.into(),
        }
    }
}

/// The API key of a request was refused (the caller adds `WWW-Authenticate`).
impl From<AuthFailure> for Problem {
    fn from(f: AuthFailure) -> Self {
        match f {
            AuthFailure::Revoked => Problem::new(ProblemCode::ApiKeyRevoked),
            AuthFailure::Expired => Problem::new(ProblemCode::ApiKeyExpired),
            AuthFailure::Invalid => Problem::new(ProblemCode::Unauthorized)
                .detail("The API key is not valid. Check it was copied whole, or create a new one with `idlink apikey create`."),
        }
    }
}

/// A step-up refusal that says why (to the token's holder), as detail and as a stable reason code.
impl From<StepUpRefusal> for Problem {
    fn from(why: StepUpRefusal) -> Self {
        Problem::new(ProblemCode::StepUpRequired).detail(why.explain()).errors(vec![FieldError::new("", why.as_str(), why.explain())])
    }
}

impl From<Frozen> for Problem {
    fn from(f: Frozen) -> Self {
        Problem::new(ProblemCode::AccountFrozen).detail(format!(
            "The account is frozen for a risk review (case {}). Sensitive operations are refused until two operators lift it.",
            f.case_id
        ))
    }
}

impl From<FaceUnavailable> for Problem {
    fn from(u: FaceUnavailable) -> Self {
        Problem::new(ProblemCode::InstitutionUnavailable)
            .detail(format!("The face-verification provider is unavailable. Retry in {} s.", u.retry_after_secs))
            .retry_after(u.retry_after_secs)
    }
}

impl From<BureauUnavailable> for Problem {
    fn from(u: BureauUnavailable) -> Self {
        Problem::new(ProblemCode::InstitutionUnavailable)
            .detail(format!(
                "The credit bureau is unavailable; the request waits and is asked again. Read it again in {} s.",
                u.retry_after_secs
            ))
            .retry_after(u.retry_after_secs)
    }
}

impl From<idlink_core::credit_alerts::AlertError> for Problem {
    fn from(e: idlink_core::credit_alerts::AlertError) -> Self {
        use idlink_core::credit_alerts::AlertError;
        match e {
            AlertError::Consent(m) => m.into(),
            AlertError::NotVerified => Problem::new(ProblemCode::IdentityNotVerified),
            AlertError::NotAuthorised(app) => Problem::new(ProblemCode::CreditAlertAppNotAuthorised).errors(vec![FieldError::new(
                "/apps",
                "app_not_authorised",
                format!("{app} is not one of your authorised apps."),
            )]),
            AlertError::Bureau(u) => u.into(),
            AlertError::Unreadable(e) => e.into(),
            AlertError::Crypto(e) => e.into(),
            AlertError::Store(e) => e.into(),
        }
    }
}

impl From<idlink_crypto::certificates::CertError> for Problem {
    fn from(e: idlink_crypto::certificates::CertError) -> Self {
        use idlink_crypto::certificates::CertError;
        match e {
            CertError::Unreadable => Problem::new(ProblemCode::CertificateInvalid),
            CertError::Untrusted(why) => Problem::new(ProblemCode::CertificateUntrusted).detail(format!(
                "The certificate is not trusted ({why}). Use a current client certificate from a certificate authority this server trusts."
            )),
            CertError::OtherHolder => Problem::new(ProblemCode::CertificateOtherHolder),
            CertError::BadSignature => Problem::new(ProblemCode::CertificateSignatureInvalid),
        }
    }
}

impl From<idlink_core::certificates::CertificateError> for Problem {
    fn from(e: idlink_core::certificates::CertificateError) -> Self {
        use idlink_core::certificates::CertificateError;
        match e {
            CertificateError::NotAccepted => Problem::new(ProblemCode::CertificateNotAccepted),
            CertificateError::Certificate(e) => e.into(),
            CertificateError::AlreadyRegistered => Problem::new(ProblemCode::CertificateAlreadyRegistered),
            CertificateError::NotFound => Problem::new(ProblemCode::CertificateNotFound),
            CertificateError::Unreadable(e) => e.into(),
            CertificateError::Crypto(e) => e.into(),
            CertificateError::Store(e) => e.into(),
        }
    }
}

impl From<CreditError> for Problem {
    fn from(e: CreditError) -> Self {
        match e {
            CreditError::NotVerified => Problem::new(ProblemCode::IdentityNotVerified),
            CreditError::Consent(m) => m.into(),
            CreditError::Minor => Problem::new(ProblemCode::CreditReportRestricted),
            CreditError::StepUpRequired(why) => why.into(),
            CreditError::Busy => Problem::new(ProblemCode::CreditRequestUnderWay),
            CreditError::QuoteChanged(fee) => Problem::new(ProblemCode::CreditQuoteChanged)
                .detail(format!("The next report now costs {fee} yuan ({} fen). Show the new quote and accept it.", fee.0)),
            CreditError::Payment(u) => Problem::new(ProblemCode::CreditPaymentUnavailable).retry_after(u.retry_after_secs),
            CreditError::AwaitingPayment => Problem::new(ProblemCode::CreditPaymentPending),
            CreditError::PaymentNotOffered => Problem::new(ProblemCode::CreditPaymentNotOffered),
            CreditError::CardNotBound => Problem::new(ProblemCode::CreditCardNotBound).errors(vec![FieldError::new(
                "/binding_id",
                "card_not_bound",
                "Use the id of one of your bound cards (GET /v1/me/cards).",
            )]),
            CreditError::ReservedPhoneMismatch => at_reserved_phone(Problem::new(ProblemCode::ReservedPhoneMismatch)),
            CreditError::CodeRefused => Problem::new(ProblemCode::BankCodeWrong),
            CreditError::NoCodeSent => Problem::new(ProblemCode::CreditCardCodeNotSent),
            CreditError::Bank(u) => bank_unavailable(&u),
            CreditError::CertificateNotYet => Problem::new(ProblemCode::CreditCertificateNotFirstUse),
            CreditError::CertificateNotRegistered => Problem::new(ProblemCode::CertificateNotFound),
            CreditError::NoChallenge => Problem::new(ProblemCode::CertificateChallengeMissing),
            CreditError::ChallengeExpired => Problem::new(ProblemCode::CertificateChallengeExpired),
            CreditError::CertificateRefused(e) => e.into(),
            CreditError::NotFound => Problem::new(ProblemCode::CreditRequestNotFound),
            CreditError::NotAwaitingVerification(_) => Problem::new(ProblemCode::CreditRequestNotVerifying),
            CreditError::FaceRefused(result) => {
                let (code, guidance) = result.reason().unwrap_or(("review", "Retry the face check."));
                Problem::new(ProblemCode::FaceCheckFailed)
                    .detail(format!("The face check did not pass: {guidance}"))
                    .errors(vec![FieldError::new("/liveness_video", code, guidance)])
            }
            CreditError::LinkInvalid => Problem::new(ProblemCode::DownloadLinkInvalid),
            CreditError::LinkExpired => Problem::new(ProblemCode::DownloadLinkExpired),
            CreditError::NotReady => Problem::new(ProblemCode::CreditReportNotReady),
            CreditError::Purged => Problem::new(ProblemCode::CreditReportPurged),
            CreditError::NotInReview => Problem::new(ProblemCode::CreditRequestNotInReview),
            CreditError::Role(e) => e.into(),
            CreditError::Transition(e) => internal(&e, "a credit-report request was moved against its state machine"),
            CreditError::Face(u) => u.into(),
            CreditError::Bureau(u) => u.into(),
            CreditError::Render(cause) => internal(&cause, "the credit report could not be rendered"),
            CreditError::Unreadable(e) => e.into(),
            CreditError::Crypto(e) => e.into(),
            CreditError::Store(e) => e.into(),
        }
    }
}

impl From<MedicalError> for Problem {
    fn from(e: MedicalError) -> Self {
        match e {
            MedicalError::Consent(m) => m.into(),
            MedicalError::NotFound => Problem::new(ProblemCode::SocialSecurityBindingNotFound),
            MedicalError::CardUnusable(why) => Problem::new(ProblemCode::MedicalCardUnusable).detail(format!("The card cannot pay: {why}.")),
            MedicalError::Refused(MedicalRefusal::Expired) => Problem::new(ProblemCode::MedicalCodeExpired),
            MedicalError::Refused(why) => Problem::new(ProblemCode::MedicalCodeInvalid).errors(vec![FieldError::new(
                "/code",
                match why {
                    MedicalRefusal::BadSignature => "bad_signature",
                    MedicalRefusal::OtherIssuer => "other_issuer",
                    MedicalRefusal::NotYetValid => "not_yet_valid",
                    MedicalRefusal::TooLong => "too_long",
                    MedicalRefusal::Malformed | MedicalRefusal::Expired => "malformed",
                },
                why.to_string(),
            )]),
            MedicalError::Used => Problem::new(ProblemCode::MedicalCodeUsed),
            MedicalError::Reconciling => Problem::new(ProblemCode::MedicalPaymentPending).retry_after(60),
            MedicalError::Voided => Problem::new(ProblemCode::MedicalPaymentVoided),
            MedicalError::BureauRefused(reason) => {
                Problem::new(ProblemCode::MedicalPaymentRefused).detail(format!("The social-security bureau refused the payment ({reason}); nothing was paid."))
            }
            MedicalError::Bureau(u) => Problem::new(ProblemCode::InstitutionUnavailable)
                .detail(format!(
                    "The social-security bureau did not answer; the payment may or may not have been made. Present the same code again from this terminal for the same amount in {} s to finish it (even after the code expired); do not charge the patient with another code.",
                    u.retry_after_secs
                ))
                .retry_after(u.retry_after_secs),
            MedicalError::Binding(e) => e.into(),
            MedicalError::Keys(e) => internal(&e, "the signing keys could not be read"),
            MedicalError::Jose(e) => internal(&e, "a medical code could not be signed"),
            MedicalError::Store(e) => e.into(),
        }
    }
}

impl From<SsError> for Problem {
    fn from(e: SsError) -> Self {
        match e {
            SsError::NotVerified => Problem::new(ProblemCode::IdentityNotVerified),
            SsError::Consent(m) => m.into(),
            SsError::NotFound => Problem::new(ProblemCode::SocialSecurityBindingNotFound),
            SsError::RegionClosed { name, reason } => Problem::new(ProblemCode::SocialSecurityRegionClosed).detail(format!(
                "The social-security card service is not open in {name} yet ({reason}); a card issued there cannot be bound."
            )),
            SsError::RegionUnknown => Problem::new(ProblemCode::SocialSecurityRegionUnknown),
            SsError::UnderWay(id) if id.is_empty() => Problem::new(ProblemCode::SocialSecurityBindingUnderWay)
                .detail("This person has a binding under way or bound already: only they can see it."),
            SsError::UnderWay(id) => Problem::new(ProblemCode::SocialSecurityBindingUnderWay)
                .detail(format!("Binding {id} is under way: resume it (GET /v1/social-security/bindings/{id}) or cancel it first.")),
            SsError::Step(Refusal::NotYet(step)) => {
                Problem::new(ProblemCode::SocialSecurityStepOutOfOrder).detail(format!("Step {} ({}) comes first.", step.number(), step.as_str()))
            }
            SsError::Step(Refusal::Frozen) | SsError::Frozen(_) => Problem::new(ProblemCode::SocialSecurityBindingFrozen),
            SsError::Step(Refusal::Ended(Status::Expired)) | SsError::Expired => Problem::new(ProblemCode::SocialSecurityBindingExpired),
            SsError::Step(Refusal::Ended(_) | Refusal::AlreadyDone | Refusal::NotFrozen | Refusal::NotBound) => {
                Problem::new(ProblemCode::SocialSecurityBindingEnded)
            }
            SsError::NoCodeSent => Problem::new(ProblemCode::SocialSecurityCodeNotSent),
            SsError::FaceRefused(result) => {
                let (code, guidance) = result.reason().unwrap_or(("review", "Retry the face check."));
                Problem::new(ProblemCode::FaceCheckFailed)
                    .detail(format!(
                        "The face check did not pass: {guidance} You may confirm with an SMS code instead (POST …/identity/sms)."
                    ))
                    .errors(vec![FieldError::new("/liveness_video", code, guidance)])
            }
            SsError::SmsNotOffered => Problem::new(ProblemCode::SocialSecuritySmsNotOffered),
            SsError::NoCard => Problem::new(ProblemCode::SocialSecurityCardNotFound),
            SsError::UnreadableQr => Problem::new(ProblemCode::SocialSecurityQrUnreadable),
            SsError::CodeWrong => Problem::new(ProblemCode::SocialSecurityCodeWrong),
            SsError::ReservedPhoneMismatch => at_reserved_phone(Problem::new(ProblemCode::ReservedPhoneMismatch)),
            SsError::AgreementOutdated(v) => {
                Problem::new(ProblemCode::SocialSecurityAgreementOutdated).detail(format!("The current agreement is version {v}: read it and sign it."))
            }
            SsError::Features => Problem::validation(vec![FieldError::new(
                "/features",
                "invalid_features",
                format!("one or more of: {}.", idlink_core::social_security::FEATURES.join(", ")),
            )]),
            SsError::CardBoundElsewhere => Problem::new(ProblemCode::SocialSecurityCardBoundElsewhere),
            SsError::AgentNotAdult => Problem::new(ProblemCode::SocialSecurityAgentNotAdult),
            SsError::HolderUnknown => Problem::new(ProblemCode::SocialSecurityHolderUnknown),
            SsError::NoAgent => Problem::new(ProblemCode::SocialSecurityNoAgent),
            SsError::HolderOnly => Problem::new(ProblemCode::SocialSecurityHolderOnly),
            SsError::OnBehalfLimited(secs) => Problem::new(ProblemCode::SocialSecurityOnBehalfLimit).retry_after(secs),
            SsError::CardHeld(reason) => Problem::new(ProblemCode::SocialSecurityCardHeld).detail(format!(
                "The social-security bureau holds this card ({reason}). Take the card and your ID to a social-security counter to release it, then bind again."
            )),
            SsError::FeatureNotBound(f) => Problem::new(ProblemCode::SocialSecurityFeatureNotBound)
                .detail(format!("This needs the card bound with the `{f}` feature; bind it (or bind again) choosing it.")),
            SsError::Conflict => Problem::new(ProblemCode::SocialSecurityBindingConflict),
            SsError::Undecided(_) => Problem::new(ProblemCode::SocialSecurityBureauUndecided).retry_after(5),
            SsError::Bureau(u) => Problem::new(ProblemCode::InstitutionUnavailable)
                .detail(format!(
                    "The social-security bureau is unavailable on both its channels. Retry in {} s; nothing of the step is lost.",
                    u.retry_after_secs
                ))
                .retry_after(u.retry_after_secs),
            SsError::Face(u) => u.into(),
            SsError::Bank(u) => bank_unavailable(&u),
            SsError::Code(e) => e.into(),
            SsError::Send(e) => e.into(),
            SsError::Unreadable(e) => e.into(),
            SsError::Crypto(e) => e.into(),
            SsError::Store(e) => e.into(),
        }
    }
}

impl From<SecurityError> for Problem {
    fn from(e: SecurityError) -> Self {
        match e {
            SecurityError::Weak(w) => Problem::new(ProblemCode::WeakPaymentPassword).detail(format!("{w}. Choose another.")),
            SecurityError::FaceRequired => Problem::new(ProblemCode::FaceCheckRequired),
            SecurityError::Face(result) => {
                let (code, guidance) = result.reason().unwrap_or(("review", "Retry the face check."));
                Problem::new(ProblemCode::FaceCheckFailed)
                    .detail(format!("The face check did not pass: {guidance}"))
                    .errors(vec![FieldError::new("/liveness_video", code, guidance)])
            }
            SecurityError::FaceUnavailable(u) => u.into(),
            // The same answer for a wrong, locked or missing password; only the configured limit is told.
            SecurityError::PasswordRefused { max_failures } => Problem::new(ProblemCode::PaymentPasswordRefused).detail(format!(
                "The payment password was not accepted. After {max_failures} wrong passwords in a row it is locked; the user can reset it with an SMS code and a face check."
            )),
            SecurityError::BiometricRefused => Problem::new(ProblemCode::BiometricRefused),
            SecurityError::BadOperation(op) => Problem::validation(vec![FieldError::new(
                "/operation",
                "invalid_operation",
                format!(
                    "`{op}` is not an operation that takes a step-up token; use one of: {}.",
                    idlink_core::stepup::OPERATIONS.join(", ")
                ),
            )]),
            SecurityError::StepUpRequired(why) => why.into(),
            SecurityError::UnknownDevice => Problem::new(ProblemCode::DeviceNotFound),
            SecurityError::Frozen(f) => f.into(),
            SecurityError::Code(e) => e.into(),
            SecurityError::Hash(e) => e.into(),
            SecurityError::Store(e) => e.into(),
            SecurityError::Consent(m) => m.into(),
        }
    }
}

impl From<IdentityError> for Problem {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::ChangeLimited { rule, allowed_from, policy } => {
                let detail = format!(
                    "Real-name information cannot change now: {}. It is possible again from {}.",
                    rule.explain(&policy),
                    idlink_domain::calendar::shanghai_display(allowed_from)
                );
                Problem::new(ProblemCode::RealNameChangeLimited).detail(detail.clone()).errors(vec![FieldError::new(
                    "",
                    rule.code(),
                    detail,
                )])
            }
            IdentityError::NotFound => Problem::new(ProblemCode::VerificationNotFound),
            IdentityError::CardNotProven(e) => e.into(),
            IdentityError::LivenessRequired => Problem::validation(vec![FieldError::new(
                "/liveness_video",
                "required",
                "`liveness_video` is required: this verification checks the face.",
            )]),
            IdentityError::NotAwaitingInput(_) => Problem::new(ProblemCode::VerificationClosed),
            IdentityError::Registry(u) => registry_unavailable(&u),
            IdentityError::Bank(u) => bank_unavailable(&u),
            IdentityError::Face(u) => u.into(),
            IdentityError::Frozen(f) => f.into(),
            IdentityError::Code(e) => e.into(),
            IdentityError::Send(e) => e.into(),
            IdentityError::Unreadable(e) => e.into(),
            IdentityError::Crypto(e) => e.into(),
            IdentityError::Store(e) => e.into(),
            IdentityError::Consent(m) => m.into(),
        }
    }
}

/// The identity registry is unavailable.
fn registry_unavailable(u: &RegistryUnavailable) -> Problem {
    Problem::new(ProblemCode::InstitutionUnavailable)
        .detail(format!("The identity registry is unavailable. Retry in {} s.", u.retry_after_secs))
        .retry_after(u.retry_after_secs)
}

/// The card's bank (or the card switch) is unavailable while checking a card
/// or sending its code: the same code as a registry outage (`institution_unavailable`,
/// as before), a message that names the bank. A balance query answers `bank_unavailable`.
fn bank_unavailable(u: &BankUnavailable) -> Problem {
    Problem::new(ProblemCode::InstitutionUnavailable)
        .detail(format!("The card's bank is unavailable. Retry in {} s.", u.retry_after_secs))
        .retry_after(u.retry_after_secs)
}

impl From<CardNotProven> for Problem {
    fn from(e: CardNotProven) -> Self {
        match e {
            CardNotProven::NotVerified => Problem::new(ProblemCode::IdentityNotVerified),
            CardNotProven::Refused(reason) => Problem::new(ProblemCode::BankCardCheckFailed)
                .detail(format!("The bank did not confirm the card: {}", reason.guidance()))
                .errors(vec![FieldError::new("/card_number", reason.as_str(), reason.guidance())]),
        }
    }
}

/// Points a reserved-phone refusal at the field the user must fix.
fn at_reserved_phone(p: Problem) -> Problem {
    let reason = VerificationReason::ReservedPhoneMismatch;
    p.errors(vec![FieldError::new("/reserved_phone", reason.as_str(), reason.guidance())])
}

impl From<BindingError> for Problem {
    fn from(e: BindingError) -> Self {
        match e {
            BindingError::ReservedPhoneMismatch => at_reserved_phone(Problem::new(ProblemCode::ReservedPhoneMismatch)),
            BindingError::Consent(m) => m.into(),
            // The bank's four-element check names the reserved phone: point at the field the user must fix.
            BindingError::CardNotProven(CardNotProven::Refused(reason @ VerificationReason::ReservedPhoneMismatch)) => at_reserved_phone(
                Problem::new(ProblemCode::BankCardCheckFailed).detail(format!("The bank did not confirm the card: {}", reason.guidance())),
            ),
            BindingError::NotFound => Problem::new(ProblemCode::CardBindingNotFound),
            BindingError::NotPending => Problem::new(ProblemCode::CardBindingNotPending),
            BindingError::WrongCode => Problem::new(ProblemCode::BankCodeWrong),
            BindingError::AlreadyBound => Problem::new(ProblemCode::CardAlreadyBound),
            BindingError::CardNotProven(e) => e.into(),
            BindingError::Unavailable(u) => bank_unavailable(&u),
            BindingError::Frozen(f) => f.into(),
            BindingError::Unreadable(e) => e.into(),
            BindingError::Crypto(e) => e.into(),
            BindingError::Store(e) => e.into(),
        }
    }
}

/// Bank `bank` asks for no electronic agreement: there is nothing to read or sign.
fn agreement_not_required(bank: &str) -> Problem {
    Problem::new(ProblemCode::AgreementNotRequired).detail(format!(
        "Bank {bank} requires no electronic agreement for balance queries (`agreement_required` is false in the card's policy): there is nothing to read or sign."
    ))
}

impl From<BalanceError> for Problem {
    fn from(e: BalanceError) -> Self {
        match e {
            BalanceError::NotBound => Problem::new(ProblemCode::CardBindingNotFound),
            BalanceError::Consent(m) => m.into(),
            BalanceError::FeatureOff => Problem::new(ProblemCode::BalanceQueryDisabled),
            BalanceError::AgreementRequired => Problem::new(ProblemCode::AgreementRequired),
            BalanceError::NoAgreementForBank { bank } => agreement_not_required(&bank),
            BalanceError::AgreementVersionNotCurrent { bank, current } => Problem::new(ProblemCode::AgreementVersionNotCurrent).detail(format!(
                "The version signed is not bank {bank}'s current agreement, which is {current}. Fetch GET {}, show it to the user, and sign its `version` and `sha256`.",
                agreement_url(&bank)
            )),
            BalanceError::AgreementHashMismatch { bank } => Problem::new(ProblemCode::AgreementHashMismatch).detail(format!(
                "`document_hash` is not the SHA-256 of bank {bank}'s current agreement: the text shown is not the one published. Show the `text` of GET {} unchanged and sign its `sha256`.",
                agreement_url(&bank)
            )),
            BalanceError::StepUpRequired(why) => why.into(),
            BalanceError::Closed => Problem::new(ProblemCode::BalanceNotDisclosed),
            BalanceError::Suspended => Problem::new(ProblemCode::BalanceQuerySuspended),
            BalanceError::CardLost => Problem::new(ProblemCode::CardReportedLost),
            BalanceError::Bank(u) => {
                let when = u.expected_end.map(|t| format!(" The bank expects to be back at {t}.")).unwrap_or_default();
                Problem::new(ProblemCode::BankUnavailable)
                    .detail(format!("The bank is temporarily unavailable on every channel. Retry in {} s.{when}", u.retry_after_secs))
                    .expected_end(u.expected_end)
                    .retry_after(u.retry_after_secs)
            }
            BalanceError::Unreadable(e) => e.into(),
            BalanceError::Crypto(e) => e.into(),
            BalanceError::Store(e) => e.into(),
        }
    }
}

/// The bank's agreement document for `GET /v1/banks/{bank}/agreement` (the error does not name the bank).
pub fn document_problem(e: DocumentError, bank: &str) -> Problem {
    match e {
        DocumentError::UnknownBank => Problem::new(ProblemCode::BankUnknown)
            .detail(format!("No bank `{bank}` in the roster. Use the `bank` code of a card from GET /v1/me/cards.")),
        DocumentError::NotRequired => agreement_not_required(bank),
    }
}

impl From<GuardianError> for Problem {
    fn from(e: GuardianError) -> Self {
        match e {
            GuardianError::NotAVerifiedMinor => Problem::new(ProblemCode::NotAVerifiedMinor),
            GuardianError::GuardianNotEligible => Problem::new(ProblemCode::GuardianNotEligible),
            GuardianError::NotFound => Problem::new(ProblemCode::GuardianshipNotFound),
            GuardianError::NotPending => Problem::new(ProblemCode::GuardianshipNotPending),
            GuardianError::Unreadable(e) => e.into(),
            GuardianError::Crypto(e) => e.into(),
            GuardianError::Store(e) => e.into(),
        }
    }
}

impl From<OperatorError> for Problem {
    fn from(e: OperatorError) -> Self {
        match e {
            OperatorError::BadCredentials => Problem::new(ProblemCode::OperatorSignInFailed),
            OperatorError::SessionInvalid => Problem::new(ProblemCode::OperatorSessionInvalid),
            OperatorError::RoleRequired(r) => r.into(),
            OperatorError::UnknownOperator => Problem::new(ProblemCode::NotFound).detail(format!("{e}.")),
            OperatorError::BadUsername | OperatorError::UsernameTaken => {
                Problem::new(ProblemCode::ValidationFailed).detail(format!("{e}."))
            }
            OperatorError::NotFound => Problem::new(ProblemCode::OperatorNotFound),
            OperatorError::PagingPhoneRequired => Problem::new(ProblemCode::PagingPhoneRequired),
            OperatorError::Hash(e) => e.into(),
            OperatorError::Crypto(e) => e.into(),
            OperatorError::Store(e) => e.into(),
        }
    }
}

impl From<idlink_core::people::PeopleError> for Problem {
    fn from(e: idlink_core::people::PeopleError) -> Self {
        use idlink_core::people::{PeopleError, REFERENCE_MAX_CHARS};
        match e {
            PeopleError::RoleRequired(r) => r.into(),
            PeopleError::ReferenceMissing => Problem::validation(vec![FieldError::new(
                "/reference",
                "required",
                "Give the reference of the request you are handling (a ticket or letter number).",
            )]),
            PeopleError::ReferenceTooLong => Problem::validation(vec![FieldError::new(
                "/reference",
                "too_long",
                format!("The reference is at most {REFERENCE_MAX_CHARS} characters."),
            )]),
            PeopleError::UserNotFound => Problem::new(ProblemCode::UserNotFound),
            PeopleError::Crypto(e) => e.into(),
            PeopleError::Store(e) => e.into(),
        }
    }
}

impl From<RoleRequired> for Problem {
    fn from(RoleRequired(role): RoleRequired) -> Self {
        Problem::new(ProblemCode::OperatorRoleRequired).detail(format!("This action needs the `{role}` role."))
    }
}

impl From<idlink_core::reports::ReportError> for Problem {
    fn from(e: idlink_core::reports::ReportError) -> Self {
        use idlink_core::reports::ReportError;
        match e {
            ReportError::PeriodOpen { quarter, ends } => Problem::new(ProblemCode::ReportPeriodOpen)
                .detail(format!("The quarter {quarter} ends at {ends}; its report can be generated from then on.")),
            ReportError::UnknownFile(_) => Problem::new(ProblemCode::ReportFileUnknown),
            ReportError::Store(e) => e.into(),
        }
    }
}

impl From<idlink_core::keystatus::KeyStatusError> for Problem {
    fn from(e: idlink_core::keystatus::KeyStatusError) -> Self {
        use idlink_core::keystatus::KeyStatusError;
        match e {
            KeyStatusError::RoleRequired(e) => e.into(),
            KeyStatusError::Store(e) => e.into(),
        }
    }
}

impl From<ReviewError> for Problem {
    fn from(e: ReviewError) -> Self {
        match e {
            ReviewError::NotFound => Problem::new(ProblemCode::CaseNotFound),
            ReviewError::Closed => Problem::new(ProblemCode::CaseClosed),
            ReviewError::SameOperator => Problem::new(ProblemCode::SecondOperatorRequired),
            ReviewError::DualControl => Problem::new(ProblemCode::DualControlRequired),
            ReviewError::NotClaimed => Problem::new(ProblemCode::CaseNotClaimed),
            ReviewError::AwaitingUser => Problem::new(ProblemCode::CaseAwaitingUser),
            ReviewError::NotHeld => Problem::new(ProblemCode::CaseNotHeld),
            ReviewError::NothingToAsk => Problem::new(ProblemCode::CaseAsksNothing),
            ReviewError::Unreadable(e) => e.into(),
            ReviewError::RoleRequired(r) => r.into(),
            ReviewError::Crypto(e) => e.into(),
            ReviewError::Store(e) => e.into(),
        }
    }
}

impl From<InfoAnswerError> for Problem {
    fn from(e: InfoAnswerError) -> Self {
        match e {
            InfoAnswerError::NoOpenRequest => Problem::new(ProblemCode::InfoRequestNotFound),
            InfoAnswerError::InvalidDocument(why) => Problem::validation(vec![crate::problem::FieldError::new(
                "/document_number",
                "invalid_document_number",
                format!("`document_number` is not valid for this document: {why}."),
            )]),
            InfoAnswerError::ResidentIdResent => Problem::new(ProblemCode::ResidentIdNotResendable),
            InfoAnswerError::DocumentNumberTaken => Problem::new(ProblemCode::DocumentNumberTaken),
            InfoAnswerError::Unreadable(e) => e.into(),
            InfoAnswerError::Crypto(e) => e.into(),
            InfoAnswerError::Store(e) => e.into(),
        }
    }
}

impl From<DualControlError> for Problem {
    fn from(e: DualControlError) -> Self {
        match e {
            DualControlError::NotFound => Problem::new(ProblemCode::ProposalNotFound),
            DualControlError::Decided => Problem::new(ProblemCode::ProposalDecided),
            DualControlError::Expired(at) => Problem::new(ProblemCode::ProposalExpired)
                .detail(format!("The approval window closed at {at}; nothing ran. Propose the action again.")),
            DualControlError::OwnProposal => Problem::new(ProblemCode::OwnProposal),
            DualControlError::CaseNotFound => {
                Problem::new(ProblemCode::CaseNotFound).detail("No open risk-freeze case with this id: only a freeze can be lifted.")
            }
            DualControlError::CaseClosed => Problem::new(ProblemCode::CaseClosed),
            DualControlError::RotationUnavailable => Problem::new(ProblemCode::KeyRotationUnavailable),
            DualControlError::RoleRequired(r) => r.into(),
            DualControlError::Store(e) => e.into(),
        }
    }
}

impl From<MaintenanceError> for Problem {
    fn from(e: MaintenanceError) -> Self {
        match e {
            MaintenanceError::UnknownInstitution(i) => {
                Problem::new(ProblemCode::InstitutionUnknown).detail(format!("The connectors know no `{i}` with that channel."))
            }
            MaintenanceError::BadPeriod => Problem::new(ProblemCode::MaintenancePeriodInvalid),
            MaintenanceError::NotFound => Problem::new(ProblemCode::MaintenanceNotFound),
            MaintenanceError::Overlaps(other) => Problem::new(ProblemCode::MaintenanceOverlaps)
                .detail(format!("Window {other} on the same target overlaps this one: cancel it or choose another period.")),
            MaintenanceError::RoleRequired(r) => r.into(),
            MaintenanceError::Store(e) => e.into(),
        }
    }
}

impl From<AuditError> for Problem {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::Store(e) => e.into(),
            AuditError::Witness(e) => {
                tracing::error!(error = %e, "the audit witness cannot be read");
                Problem::new(ProblemCode::ServiceUnavailable).retry_after(5)
            }
            AuditError::Refused(b) => {
                tracing::error!(problem = %b, "verification refused");
                Problem::new(ProblemCode::InternalError)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idlink_core::payment::{self, PaymentPasswordPolicy};
    use std::sync::{Arc, Mutex};

    /// Collects what `tracing` writes while a mapping runs.
    #[derive(Clone, Default)]
    struct Logs(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Logs {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
        type Writer = Logs;
        fn make_writer(&'a self) -> Logs {
            self.clone()
        }
    }

    fn logged<T>(f: impl FnOnce() -> T) -> (T, String) {
        let logs = Logs::default();
        let subscriber = tracing_subscriber::fmt().with_writer(logs.clone()).with_ansi(false).finish();
        let out = tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8_lossy(&logs.0.lock().map(|b| b.clone()).unwrap_or_default()).into_owned();
        (out, text)
    }

    /// A real Argon2 failure: a cost the library refuses (one lane is the minimum).
    async fn argon2_failure() -> HashError {
        let policy = PaymentPasswordPolicy { memory_kib: 1024, parallelism: 0, ..PaymentPasswordPolicy::default() };
        match payment::hash(&policy, &idlink_crypto::SeededRandom::new(7), "135790").await {
            Err(e) => e,
            Ok(h) => panic!("Argon2 hashed with no lane: {h}"),
        }
    }

    fn assert_internal_and_untold(p: &Problem) {
        assert_eq!(p.code, ProblemCode::InternalError);
        assert_eq!(p.status, 500);
        assert_eq!(p.detail, ProblemCode::InternalError.message(), "no internal detail reaches the client");
        assert!(p.errors.is_empty());
    }

    #[tokio::test]
    async fn an_argon2_failure_is_an_internal_error_logged_with_its_cause_and_not_told() {
        let e = argon2_failure().await;
        let (p, logs) = logged(|| Problem::from(e));
        assert_internal_and_untold(&p);
        assert!(logs.contains("password hashing failed") && logs.contains("invalid Argon2 parameters"), "{logs}");
        assert!(!logs.contains("135790"), "no password in the log: {logs}");

        // The same through the use cases that hash: setting a payment password, creating an operator.
        let e = SecurityError::from(argon2_failure().await);
        assert_internal_and_untold(&Problem::from(e));
        let e = OperatorError::Hash(argon2_failure().await);
        assert_internal_and_untold(&Problem::from(e));
    }

    #[test]
    fn a_taken_phone_is_still_a_conflict_that_says_why() {
        let p = Problem::from(UserError::PhoneTaken);
        assert_eq!((p.code, p.status), (ProblemCode::PhoneTaken, 409));
        assert_eq!(p.detail, "a user with this phone number already exists.");
    }
}
