//! (issue 14) placeholder: the console apps page's browser tests.
