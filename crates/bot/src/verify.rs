//! Discord signs every interaction request: Ed25519 over the timestamp
//! header followed by the raw body, with the application's public key. A
//! request that fails the check, or whose timestamp is more than five
//! minutes away from now (a replay), is refused.

use ed25519_dalek::{Signature, VerifyingKey};

pub const SIGNATURE_HEADER: &str = "x-signature-ed25519";
pub const TIMESTAMP_HEADER: &str = "x-signature-timestamp";
/// How far a request's timestamp may be from now, in seconds.
pub const MAX_SKEW_SECS: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("missing {0} header")]
    Missing(&'static str),
    #[error("invalid request signature")]
    BadSignature,
    #[error("request timestamp is not within five minutes of now")]
    Stale,
    #[error("this interaction was already received")]
    Replayed,
}

/// Check a request's signature and freshness.
pub fn verify(
    key: &VerifyingKey,
    signature_hex: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
    now_unix: i64,
) -> Result<(), Rejection> {
    let sig_hex = signature_hex.ok_or(Rejection::Missing(SIGNATURE_HEADER))?;
    let ts = timestamp.ok_or(Rejection::Missing(TIMESTAMP_HEADER))?;
    let sig: [u8; 64] = hex::decode(sig_hex.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(Rejection::BadSignature)?;
    let sig = Signature::from_bytes(&sig);
    let mut message = Vec::with_capacity(ts.len() + body.len());
    message.extend_from_slice(ts.as_bytes());
    message.extend_from_slice(body);
    key.verify_strict(&message, &sig)
        .map_err(|_| Rejection::BadSignature)?;
    let at: i64 = ts.trim().parse().map_err(|_| Rejection::Stale)?;
    if (now_unix - at).abs() > MAX_SKEW_SECS {
        return Err(Rejection::Stale);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Signer;

    #[test]
    fn a_signed_fresh_request_passes_and_anything_else_fails() {
        let signer = Signer::from_seed([7; 32]);
        let key = signer.verifying_key();
        let body = br#"{"type":1}"#;
        let now = 1_767_600_000;
        let ts = now.to_string();
        let sig = signer.sign(&ts, body);
        assert_eq!(verify(&key, Some(&sig), Some(&ts), body, now), Ok(()));
        // Another body, another timestamp, another key: all refused.
        assert_eq!(
            verify(&key, Some(&sig), Some(&ts), br#"{"type":2}"#, now),
            Err(Rejection::BadSignature)
        );
        let later = (now + 1).to_string();
        assert_eq!(
            verify(&key, Some(&sig), Some(&later), body, now),
            Err(Rejection::BadSignature)
        );
        let other = Signer::from_seed([8; 32]).verifying_key();
        assert_eq!(
            verify(&other, Some(&sig), Some(&ts), body, now),
            Err(Rejection::BadSignature)
        );
        assert_eq!(
            verify(&key, Some("zz"), Some(&ts), body, now),
            Err(Rejection::BadSignature)
        );
        assert_eq!(
            verify(&key, None, Some(&ts), body, now),
            Err(Rejection::Missing(SIGNATURE_HEADER))
        );
    }

    #[test]
    fn an_old_or_future_timestamp_is_stale() {
        let signer = Signer::from_seed([7; 32]);
        let key = signer.verifying_key();
        let body = b"{}";
        let now = 1_767_600_000;
        for at in [now - 301, now + 301] {
            let ts = at.to_string();
            let sig = signer.sign(&ts, body);
            assert_eq!(
                verify(&key, Some(&sig), Some(&ts), body, now),
                Err(Rejection::Stale)
            );
        }
        let ts = (now - 299).to_string();
        let sig = signer.sign(&ts, body);
        assert_eq!(verify(&key, Some(&sig), Some(&ts), body, now), Ok(()));
    }
}
