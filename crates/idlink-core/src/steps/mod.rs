//! Steps that several use cases take, written once as functions over ports:
//! SMS codes ([`codes`]), reading a user's personal data ([`personal`]),
//! proving a card with its bank ([`cards`]), risk freezes ([`risk`]), the
//! user notices written to the outbox ([`notices`]) and applying a bank's
//! card event ([`bank_events`]), and paging the operators on duty ([`paging`]).
//!
//! A step imports ports (and the vault), never a use case; a use case
//! reaches another's work only through a step, never through its fields.
//! Steps return their failures as plain leaf types, or are generic over
//! the caller's error (`E: From<StoreError> + …`), so each use case keeps
//! one flat error enum.

pub mod bank_events;
pub mod cards;
pub mod codes;
pub mod notices;
pub mod paging;
pub mod personal;
pub mod risk;
