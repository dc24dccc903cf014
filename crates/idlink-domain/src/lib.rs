//! Pure domain types and rules of idlink.
//!
//! Everything here is deterministic and free of I/O: no clock, no randomness,
//! no database. Values that cross the system boundary (phone numbers, ids,
//! money) are newtypes validated on construction, so the layers above never
//! handle a raw `String` where a checked value is meant.
//!
//! Personal data types (see [`pii`]) never print their clear value through
//! `Debug`, `Display` or `Serialize`; reading it is an explicit `.reveal()`.

pub mod agreement;
pub mod calendar;
pub mod capabilities;
pub mod card;
pub mod change_limits;
pub mod consent;
pub mod credit_report;
pub mod credit_request;
pub mod disclosure;
pub mod idnumber;
pub mod ids;
pub mod money;
pub mod name;
pub mod payment_password;
pub mod phone;
pub mod pii;
pub mod repayment;
pub mod revocation;
pub mod revocation_saga;
pub mod risk;
pub mod roster;
pub mod social_security;
pub mod ss_binding;
pub mod ss_service;
pub mod verification;
pub mod working_days;

pub use idnumber::{IdNumber, IdNumberError};
pub use ids::{
    AgreementId, ApiKeyId, AuthzRequestId, BindingId, BiometricChallengeId, CaseId, ChallengeId, ClientId, ConsentId, CreditRequestId,
    DeviceId, EndpointId, EventId, GrantId, GuardianshipId, MaintenanceId, OperatorId, OperatorSessionId, ProposalId, QueryId,
    RefreshFamilyId, RequestId, SessionId, StepUpId, StreamId, UserId, VerificationId,
};
pub use money::Fen;
pub use name::{NameError, PersonName};
pub use phone::{PhoneError, PhoneNumber};
pub use pii::{DocumentType, Masked, mask_card, mask_document_number, mask_id_number, mask_phone};
