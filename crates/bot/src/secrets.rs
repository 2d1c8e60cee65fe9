//! The bot's secrets, only ever from the environment.

use ed25519_dalek::VerifyingKey;

pub const TOKEN_VAR: &str = "DISCORD_TOKEN";
pub const PUBLIC_KEY_VAR: &str = "DISCORD_PUBLIC_KEY";

/// A secret is missing or unusable; the message says which variable to set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SecretError(pub String);

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The bot token, when set.
pub fn token() -> Option<String> {
    var(TOKEN_VAR)
}

/// The bot token, required for `why`.
pub fn require_token(why: &str) -> Result<String, SecretError> {
    token().ok_or_else(|| {
        SecretError(format!(
            "set {TOKEN_VAR} to the bot's token (Discord developer portal → Bot) {why}"
        ))
    })
}

/// The application's public key, which signs every interaction request.
pub fn public_key() -> Result<VerifyingKey, SecretError> {
    let hex = var(PUBLIC_KEY_VAR).ok_or_else(|| {
        SecretError(format!(
            "set {PUBLIC_KEY_VAR} to the application's public key (hex, Discord developer portal → General Information) to serve the interactions endpoint"
        ))
    })?;
    parse_public_key(&hex)
}

pub fn parse_public_key(hex_key: &str) -> Result<VerifyingKey, SecretError> {
    let bad = |why: &str| {
        SecretError(format!(
            "{PUBLIC_KEY_VAR} is not an Ed25519 public key ({why}): copy the 64 hex digits from the Discord developer portal"
        ))
    };
    let bytes = hex::decode(hex_key.trim()).map_err(|_| bad("not hex"))?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| bad("not 32 bytes"))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| bad("not a curve point"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_public_key_says_which_variable() {
        for k in ["xyz", "abcd", &"00".repeat(33)] {
            let e = parse_public_key(k)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(PUBLIC_KEY_VAR), "{e}");
        }
    }
}
