//! `X-Esign-Signature` on callbacks (ARCHITECTURE.md, wire protocol):
//! `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, one `v1=` per active secret so a
//! receiver keeps verifying while a secret is rotated.

use hmac::{KeyInit, Mac};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The header value for `body` sent at `timestamp`, signed with every secret in `secrets`.
pub fn header_value(timestamp: i64, body: &[u8], secrets: &[&[u8]]) -> String {
    let mut value = format!("t={timestamp}");
    for secret in secrets {
        value.push_str(",v1=");
        value.push_str(&hex::encode(mac(secret, timestamp, body)));
    }
    value
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return Vec::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// What a receiver does: parse the header, check the timestamp is within `tolerance_seconds` of
/// `now`, and accept when any `v1` matches (constant-time). esign's own tests and the documentation's
/// receiver example use it.
pub fn verify(
    header: &str,
    body: &[u8],
    secret: &[u8],
    now: i64,
    tolerance_seconds: i64,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => {
                timestamp = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| SignatureError::Malformed)?,
                )
            }
            Some(("v1", value)) => {
                candidates.push(hex::decode(value).map_err(|_| SignatureError::Malformed)?)
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    // `abs_diff`: an unsigned (not yet checked) `t` near either end of i64 must not overflow.
    if now.abs_diff(timestamp) > tolerance_seconds.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let expected = mac(secret, timestamp, body);
    let matched = candidates.iter().fold(false, |found, candidate| {
        found
            | bool::from(subtle::ConstantTimeEq::ct_eq(
                candidate.as_slice(),
                expected.as_slice(),
            ))
    });
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is malformed")]
    Malformed,
    #[error("the signature's timestamp is outside the tolerated window")]
    Stale,
    #[error("no signature matches")]
    Mismatch,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_body_verifies_and_a_changed_one_does_not() {
        let header = header_value(1_700_000_000, b"{\"a\":1}", &[b"secret-one"]);
        assert!(header.starts_with("t=1700000000,v1="));
        assert_eq!(
            verify(&header, b"{\"a\":1}", b"secret-one", 1_700_000_010, 300),
            Ok(())
        );
        assert_eq!(
            verify(&header, b"{\"a\":2}", b"secret-one", 1_700_000_010, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&header, b"{\"a\":1}", b"secret-two", 1_700_000_010, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&header, b"{\"a\":1}", b"secret-one", 1_700_001_000, 300),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn a_timestamp_at_the_ends_of_the_integer_range_is_stale_not_a_panic() {
        // `now - t` overflowed for these, before any signature was checked.
        for t in [i64::MIN, i64::MAX] {
            assert_eq!(
                verify(
                    &format!("t={t},v1=00"),
                    b"{}",
                    b"secret",
                    1_700_000_000,
                    300
                ),
                Err(SignatureError::Stale)
            );
        }
    }

    #[test]
    fn every_active_secret_signs_so_rotation_does_not_break_receivers() {
        let header = header_value(42, b"body", &[b"old-secret", b"new-secret"]);
        assert_eq!(header.matches("v1=").count(), 2);
        assert_eq!(verify(&header, b"body", b"old-secret", 42, 300), Ok(()));
        assert_eq!(verify(&header, b"body", b"new-secret", 42, 300), Ok(()));
    }

    #[test]
    fn the_mac_is_over_timestamp_dot_body() {
        // Independent computation of the documented formula.
        let mut mac = HmacSha256::new_from_slice(b"k").unwrap();
        mac.update(b"7.x");
        let expected = hex::encode(mac.finalize().into_bytes());
        assert_eq!(header_value(7, b"x", &[b"k"]), format!("t=7,v1={expected}"));
    }
}
