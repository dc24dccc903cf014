//! (issue 14) placeholder: filled by the grants work.
