//! One module per flow. A handler reads the form, calls one use case
//! through the API's state, and answers the next page or a redirect;
//! [`render`] holds what every page shares (the frame, form errors, the
//! message for a problem).

pub mod access;
pub mod apps;
pub mod authorize;
pub mod capabilities;
pub mod cards;
pub mod consents;
pub mod credit;
pub mod home;
pub mod identity;
pub mod login;
pub mod prefs;
pub mod render;
pub mod revocation;
pub mod security;
pub mod social_security;
pub mod ss_records;
