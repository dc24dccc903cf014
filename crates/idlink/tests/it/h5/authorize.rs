//! (issue 14) placeholder: the consent page's browser tests.
