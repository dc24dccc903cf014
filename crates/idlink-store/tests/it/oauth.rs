//! (issue 14) placeholder: filled by the oauth store work.
