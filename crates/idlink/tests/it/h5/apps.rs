//! (issue 14) placeholder: the apps page's browser tests.
