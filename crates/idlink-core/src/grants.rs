//! What users authorised third-party apps to hold (SPEC TP1, TP2): every
//! grant with its claims, when, and the deliveries sent to the app; revoking
//! one, all of a user's (by the user, or by the host backend: by subject),
//! which ends the grant's tokens at once and tells the app (ADR 0022).
