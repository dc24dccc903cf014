//! (issue 14) placeholder: filled by the grants store work.
