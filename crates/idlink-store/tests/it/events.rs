//! (issue 14) placeholder: filled by the events store work.
