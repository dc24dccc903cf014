//! Key status, duty, requests for more information, escalation seen arriving.
