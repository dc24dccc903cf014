//! The institution health page and API.
