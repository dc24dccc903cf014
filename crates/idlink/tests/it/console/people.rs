//! The user 360° page and API.
