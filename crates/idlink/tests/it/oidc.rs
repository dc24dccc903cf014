//! (issue 14) placeholder: filled by the oidc work.
