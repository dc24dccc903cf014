//! Time-based one-time passwords (RFC 6238, HMAC-SHA1, 30-second steps,
//! 6 digits): the second factor of operator sign-in (SPEC P5).

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

pub const STEP_SECS: i64 = 30;

/// The code for the step containing `unix_secs`.
pub fn code_at(secret: &[u8], unix_secs: i64, digits: u32) -> String {
    let counter = unix_secs.div_euclid(STEP_SECS) as u64;
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = usize::from(h[h.len() - 1] & 0x0f);
    let bin =
        (u32::from(h[offset]) & 0x7f) << 24 | u32::from(h[offset + 1]) << 16 | u32::from(h[offset + 2]) << 8 | u32::from(h[offset + 3]);
    let modulo = 10u32.pow(digits);
    format!("{:0width$}", bin % modulo, width = digits as usize)
}

/// Accepts the current code or the one of the neighbouring step (clock skew).
pub fn verify(secret: &[u8], code: &str, unix_secs: i64) -> bool {
    let code = code.trim();
    code.len() == 6 && [-STEP_SECS, 0, STEP_SECS].iter().any(|d| constant_eq(code_at(secret, unix_secs + d, 6).as_bytes(), code.as_bytes()))
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Base32 (RFC 4648, no padding), the form authenticator apps take.
pub fn to_base32(secret: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(secret)
}

/// An `otpauth://` URI for enrolling the secret in an authenticator app.
pub fn provisioning_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    format!("otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits=6&period=30", to_base32(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 column (8 digits).
    #[test]
    fn matches_rfc_6238() {
        let secret = b"12345678901234567890";
        for (t, want) in [(59, "94287082"), (1_111_111_109, "07081804"), (1_234_567_890, "89005924"), (2_000_000_000, "69279037")] {
            assert_eq!(code_at(secret, t, 8), want, "T={t}");
        }
    }

    #[test]
    fn verification_allows_one_step_of_skew() {
        let secret = b"12345678901234567890";
        let now = 1_234_567_890;
        assert!(verify(secret, &code_at(secret, now, 6), now));
        assert!(verify(secret, &code_at(secret, now - 30, 6), now));
        assert!(!verify(secret, &code_at(secret, now - 90, 6), now));
        assert!(!verify(secret, "12345", now));
        assert_eq!(to_base32(b"12345678901234567890"), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }
}
