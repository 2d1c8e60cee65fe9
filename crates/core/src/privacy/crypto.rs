//! Envelope encryption for personal data: AES-256-GCM everywhere.
//!
//! - Each data subject has a data key (32 random bytes). Their fields are
//!   sealed with it; destroying it crypto-shreds every copy of their data.
//! - Data keys are stored wrapped (sealed) by the master key, which only
//!   ever lives in the environment (`VIVID_MASTER_KEY`, base64 of 32 bytes).
//!   Rotating the master key re-wraps the data keys and never touches data.
//! - Nonces are 96 random bits from the OS for every seal. A counter would
//!   need durable, never-rewinding state per key shared by every process and
//!   surviving restores from backup; a repeat after a restore would be
//!   catastrophic. Random nonces need no coordination, and the birthday bound
//!   (NIST SP 800-38D: at most 2^32 seals per key) is far away: a data key
//!   seals a handful of fields, the master key one data key per subject and
//!   rotation.
//! - Associated data binds each ciphertext to where it belongs (row, subject,
//!   field, key versions), so a ciphertext moved to another record, field or
//!   key fails authentication instead of decrypting as someone else's data.
//!
//! A sealed value is `nonce (12 bytes) || ciphertext || tag (16 bytes)`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The environment variable that holds the master key.
pub const MASTER_KEY_VAR: &str = "VIVID_MASTER_KEY";
/// The environment variable `vivid privacy rotate-key` reads the new key from.
pub const NEW_MASTER_KEY_VAR: &str = "VIVID_NEW_MASTER_KEY";

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Why a seal or an open failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// Wrong key, tampered bytes, or associated data of another record.
    #[error("authentication failed (wrong key, or the ciphertext was altered or moved)")]
    Authentication,
    #[error("the ciphertext is malformed ({0})")]
    Malformed(&'static str),
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
}

/// 32 secret bytes, wiped from memory when dropped, never printed.
#[derive(Clone)]
struct Secret(Zeroizing<[u8; KEY_LEN]>);

impl Secret {
    fn random() -> Result<Self, CryptoError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        OsRng
            .try_fill_bytes(bytes.as_mut())
            .map_err(|e| CryptoError::Random(e.to_string()))?;
        Ok(Self(bytes))
    }

    fn from_slice(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; KEY_LEN] = bytes.try_into().ok()?;
        Some(Self(Zeroizing::new(arr)))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(self.0.as_ref().into())
    }

    fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng
            .try_fill_bytes(&mut nonce)
            .map_err(|e| CryptoError::Random(e.to_string()))?;
        let sealed = self
            .cipher()
            .encrypt(
                <&Nonce<_>>::from(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| CryptoError::Malformed("encryption failed"))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Malformed("too short"));
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce: &[u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| CryptoError::Malformed("bad nonce"))?;
        self.cipher()
            .decrypt(<&Nonce<_>>::from(nonce), Payload { msg: body, aad })
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Authentication)
    }
}

/// The master key: wraps and unwraps data keys. Lives only in memory.
#[derive(Clone)]
pub struct MasterKey(Secret);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(redacted)")
    }
}

impl MasterKey {
    /// A new random key (`vivid privacy keygen`).
    pub fn generate() -> Result<Self> {
        Secret::random()
            .map(Self)
            .map_err(|e| Error::invalid(e.to_string()))
    }

    /// Parse base64 of exactly 32 bytes; `source` names where it came from.
    pub fn parse(source: &str, text: &str) -> Result<Self> {
        let bytes = Zeroizing::new(B64.decode(text.trim()).map_err(|_| {
            Error::invalid(format!(
                "{source} is not valid base64 (`vivid privacy keygen` prints a valid key)"
            ))
        })?);
        Secret::from_slice(&bytes).map(Self).ok_or_else(|| {
            Error::invalid(format!(
                "{source} must be 32 bytes of base64 (it holds {} bytes; `vivid privacy keygen` prints a valid key)",
                bytes.len()
            ))
        })
    }

    /// Read the key from an environment variable; a missing or malformed
    /// key is an error that says what to do.
    pub fn from_env(var: &str) -> Result<Self> {
        match std::env::var(var) {
            Ok(text) if !text.trim().is_empty() => Self::parse(var, &text),
            _ => Err(Error::invalid(format!(
                "{var} is not set: personal data is encrypted with a master key from the environment \
                 (32 random bytes, base64; `vivid privacy keygen` prints a new one)"
            ))),
        }
    }

    /// Base64, for printing a new key once.
    pub fn to_base64(&self) -> String {
        B64.encode(self.0.0.as_ref())
    }

    /// A check value: proves later that a key is this one without storing it.
    pub fn check_value(&self, version: i32) -> Result<Vec<u8>> {
        self.0
            .seal(CHECK_PLAINTEXT, check_aad(version).as_bytes())
            .map_err(|e| Error::invalid(e.to_string()))
    }

    /// Does this key open the check value stored for `version`?
    pub fn matches(&self, version: i32, check_value: &[u8]) -> bool {
        self.0
            .open(check_value, check_aad(version).as_bytes())
            .is_ok_and(|p| p.as_slice() == CHECK_PLAINTEXT)
    }

    /// Wrap a data key for a subject under this master key version.
    pub fn wrap(&self, key: &DataKey, binding: &WrapBinding) -> Result<Vec<u8>, CryptoError> {
        self.0.seal(key.0.0.as_ref(), binding.aad().as_bytes())
    }

    /// Unwrap a data key; fails loudly on a wrong key or a moved wrap.
    pub fn unwrap_key(
        &self,
        wrapped: &[u8],
        binding: &WrapBinding,
    ) -> Result<DataKey, CryptoError> {
        let bytes = self.0.open(wrapped, binding.aad().as_bytes())?;
        Secret::from_slice(&bytes)
            .map(DataKey)
            .ok_or(CryptoError::Malformed("a data key must be 32 bytes"))
    }
}

impl MasterKey {
    /// The key of the e-mail blind index, derived from this master key
    /// (HMAC-SHA256 of a fixed label), so it changes when the master key is
    /// rotated and is never stored.
    pub fn blind_index_key(&self) -> BlindKey {
        BlindKey(Zeroizing::new(hmac_sha256(
            self.0.0.as_ref(),
            b"vivid:privacy:blind-index:email:v1",
        )))
    }
}

/// Keyed HMAC-SHA256 of a normalised e-mail address: lets a request find
/// its subject by e-mail without the address being stored in clear.
#[derive(Clone)]
pub struct BlindKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for BlindKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlindKey(redacted)")
    }
}

impl BlindKey {
    /// The index of an address already normalised (`normalize_email`).
    pub fn index(&self, normalized: &str) -> Vec<u8> {
        hmac_sha256(self.0.as_ref(), normalized.as_bytes()).to_vec()
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    use hmac::{KeyInit, Mac};
    // HMAC takes a key of any length: this cannot fail.
    let mut mac = match hmac::Hmac::<sha2::Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0u8; 32],
    };
    mac.update(data);
    let mut out = [0u8; 32];
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}

/// An e-mail address as the blind index keys it: trimmed and lower-cased
/// (mail providers treat the local part without case in practice). None
/// when it is not an address.
pub fn normalize_email(address: &str) -> Option<String> {
    let a = address.trim().to_lowercase();
    let (local, domain) = a.split_once('@')?;
    let ok = !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && !a.chars().any(char::is_whitespace)
        && domain
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'));
    ok.then_some(a)
}

const CHECK_PLAINTEXT: &[u8] = b"vivid master key check";

fn check_aad(version: i32) -> String {
    format!("vivid:kcv:v1:master_version={version}")
}

/// One subject's data key. Never stored unwrapped.
#[derive(Clone)]
pub struct DataKey(Secret);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(redacted)")
    }
}

impl DataKey {
    pub fn generate() -> Result<Self, CryptoError> {
        Secret::random().map(Self)
    }

    pub fn seal(&self, plaintext: &str, binding: &FieldBinding) -> Result<Vec<u8>, CryptoError> {
        self.0.seal(plaintext.as_bytes(), binding.aad().as_bytes())
    }

    pub fn open(&self, sealed: &[u8], binding: &FieldBinding) -> Result<String, CryptoError> {
        let bytes = self.0.open(sealed, binding.aad().as_bytes())?;
        String::from_utf8(bytes.to_vec()).map_err(|_| CryptoError::Malformed("not UTF-8"))
    }
}

/// Where a wrapped data key belongs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrapBinding {
    pub subject_id: i64,
    pub key_version: i32,
    pub master_version: i32,
}

impl WrapBinding {
    fn aad(&self) -> String {
        format!(
            "vivid:dek:v1:subject={}:key_version={}:master_version={}",
            self.subject_id, self.key_version, self.master_version
        )
    }
}

/// Where a sealed field belongs: its row, subject, field and data key version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldBinding<'a> {
    pub row_id: i64,
    pub subject_id: i64,
    pub field: &'a str,
    pub key_version: i32,
}

impl FieldBinding<'_> {
    fn aad(&self) -> String {
        format!(
            "vivid:pii:v1:row={}:subject={}:field={}:key_version={}",
            self.row_id, self.subject_id, self.field, self.key_version
        )
    }
}

// ---- the key this process runs with ----------------------------------------

static PROCESS_KEY: OnceLock<MasterKey> = OnceLock::new();

/// Install the master key this process runs with (the demo's development
/// key). Returns false when one was installed already.
pub fn install_process_key(key: MasterKey) -> bool {
    PROCESS_KEY.set(key).is_ok()
}

/// The key background work (demo data, simulator) uses: the installed one,
/// else `VIVID_MASTER_KEY`. None when there is neither; a malformed
/// variable is an error.
pub fn ambient_key() -> Result<Option<MasterKey>> {
    if let Some(k) = PROCESS_KEY.get() {
        return Ok(Some(k.clone()));
    }
    match std::env::var(MASTER_KEY_VAR) {
        Ok(text) if !text.trim().is_empty() => MasterKey::parse(MASTER_KEY_VAR, &text).map(Some),
        _ => Ok(None),
    }
}

/// Where the demo's master key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    Environment,
    /// A development key generated now into this file (mode 0600).
    Generated(PathBuf),
    /// The development key generated by an earlier demo.
    DevFile(PathBuf),
}

/// The development key file inside `$VIVID_HOME`.
pub fn dev_key_path(home: &Path) -> PathBuf {
    home.join("dev-master.key")
}

/// The master key for `vivid demo`: `VIVID_MASTER_KEY` when set, else a
/// development key kept in `$VIVID_HOME/dev-master.key` (created with mode
/// 0600 on first use).
pub fn demo_key(home: &Path) -> Result<(MasterKey, KeyOrigin)> {
    if let Ok(text) = std::env::var(MASTER_KEY_VAR)
        && !text.trim().is_empty()
    {
        return Ok((
            MasterKey::parse(MASTER_KEY_VAR, &text)?,
            KeyOrigin::Environment,
        ));
    }
    let path = dev_key_path(home);
    if path.exists() {
        let text = Zeroizing::new(std::fs::read_to_string(&path)?);
        let key = MasterKey::parse(&path.display().to_string(), &text)?;
        return Ok((key, KeyOrigin::DevFile(path)));
    }
    std::fs::create_dir_all(home)?;
    let key = MasterKey::generate()?;
    write_private(&path, &key.to_base64())?;
    Ok((key, KeyOrigin::Generated(path)))
}

/// Create a file only its owner can read; refuse to overwrite one.
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts.open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(row: i64) -> FieldBinding<'static> {
        FieldBinding {
            row_id: row,
            subject_id: 7,
            field: "email",
            key_version: 1,
        }
    }

    fn wrap_binding(master_version: i32) -> WrapBinding {
        WrapBinding {
            subject_id: 7,
            key_version: 1,
            master_version,
        }
    }

    #[test]
    fn a_field_round_trips_and_never_repeats_a_nonce() -> Result<(), CryptoError> {
        let key = DataKey::generate()?;
        let a = key.seal("ana@example.com", &binding(1))?;
        let b = key.seal("ana@example.com", &binding(1))?;
        assert_ne!(a[..NONCE_LEN], b[..NONCE_LEN], "fresh nonce per seal");
        assert_ne!(a, b);
        assert_eq!(key.open(&a, &binding(1))?, "ana@example.com");
        assert!(!a.windows(5).any(|w| w == b"ana@e"), "no plaintext inside");
        Ok(())
    }

    #[test]
    fn a_ciphertext_moved_to_another_row_field_or_key_fails() -> Result<(), CryptoError> {
        let key = DataKey::generate()?;
        let sealed = key.seal("+351 912 345 678", &binding(1))?;
        assert_eq!(
            key.open(&sealed, &binding(2)),
            Err(CryptoError::Authentication)
        );
        let other_field = FieldBinding {
            field: "phone",
            ..binding(1)
        };
        assert_eq!(
            key.open(&sealed, &other_field),
            Err(CryptoError::Authentication)
        );
        let other_subject = FieldBinding {
            subject_id: 8,
            ..binding(1)
        };
        assert_eq!(
            key.open(&sealed, &other_subject),
            Err(CryptoError::Authentication)
        );
        let newer = FieldBinding {
            key_version: 2,
            ..binding(1)
        };
        assert_eq!(key.open(&sealed, &newer), Err(CryptoError::Authentication));
        let wrong_key = DataKey::generate()?;
        assert_eq!(
            wrong_key.open(&sealed, &binding(1)),
            Err(CryptoError::Authentication)
        );
        let mut tampered = sealed.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert_eq!(
            key.open(&tampered, &binding(1)),
            Err(CryptoError::Authentication)
        );
        assert!(matches!(
            key.open(&sealed[..10], &binding(1)),
            Err(CryptoError::Malformed(_))
        ));
        Ok(())
    }

    #[test]
    fn wrapping_binds_the_master_version_and_rewrapping_keeps_the_data_key()
    -> Result<(), Box<dyn std::error::Error>> {
        let old = MasterKey::generate()?;
        let new = MasterKey::generate()?;
        let dek = DataKey::generate()?;
        let sealed = dek.seal("Rua das Flores 12, Porto", &binding(3))?;
        let wrapped = old.wrap(&dek, &wrap_binding(1))?;
        assert!(new.unwrap_key(&wrapped, &wrap_binding(1)).is_err());
        assert!(old.unwrap_key(&wrapped, &wrap_binding(2)).is_err());
        // Rotation: unwrap with the old key, wrap with the new; data untouched.
        let rewrapped = new.wrap(
            &old.unwrap_key(&wrapped, &wrap_binding(1))?,
            &wrap_binding(2),
        )?;
        let dek2 = new.unwrap_key(&rewrapped, &wrap_binding(2))?;
        assert_eq!(dek2.open(&sealed, &binding(3))?, "Rua das Flores 12, Porto");
        Ok(())
    }

    #[test]
    fn keys_parse_from_base64_and_check_values_tell_keys_apart() -> Result<()> {
        let key = MasterKey::generate()?;
        let text = key.to_base64();
        assert_eq!(text.len(), 44);
        let again = MasterKey::parse("VIVID_MASTER_KEY", &text)?;
        let kcv = key.check_value(1)?;
        assert!(again.matches(1, &kcv));
        assert!(!again.matches(2, &kcv), "bound to its version");
        assert!(!MasterKey::generate()?.matches(1, &kcv));
        let short = MasterKey::parse("VIVID_MASTER_KEY", &B64.encode([1u8; 16]));
        assert!(
            matches!(short, Err(Error::Invalid(m)) if m.contains("32 bytes") && m.contains("16"))
        );
        let junk = MasterKey::parse("VIVID_MASTER_KEY", "not base64!");
        assert!(matches!(junk, Err(Error::Invalid(m)) if m.contains("not valid base64")));
        assert_eq!(format!("{key:?}"), "MasterKey(redacted)");
        Ok(())
    }

    #[test]
    fn the_demo_key_is_created_once_with_owner_only_permissions() -> Result<()> {
        if std::env::var_os(MASTER_KEY_VAR).is_some() {
            return Ok(());
        }
        let home = std::env::temp_dir().join(format!("vivid-demo-key-{}", std::process::id()));
        std::fs::remove_dir_all(&home).ok();
        let (first, origin) = demo_key(&home)?;
        assert_eq!(origin, KeyOrigin::Generated(dev_key_path(&home)));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dev_key_path(&home))?.permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (second, origin) = demo_key(&home)?;
        assert_eq!(origin, KeyOrigin::DevFile(dev_key_path(&home)));
        assert_eq!(first.to_base64(), second.to_base64());
        std::fs::remove_dir_all(&home).ok();
        Ok(())
    }

    #[test]
    fn the_blind_index_is_keyed_normalised_and_rotates_with_the_master_key() {
        let (a, b) = match (MasterKey::generate(), MasterKey::generate()) {
            (Ok(a), Ok(b)) => (a, b),
            _ => panic!("random keys"),
        };
        let norm = |s: &str| normalize_email(s).unwrap_or_default();
        assert_eq!(norm("  Jane.Doe@Example.COM "), "jane.doe@example.com");
        assert_eq!(normalize_email("not an address"), None);
        assert_eq!(normalize_email("a@b"), None);
        let ka = a.blind_index_key();
        let i1 = ka.index(&norm("Jane.Doe@Example.com"));
        assert_eq!(i1, ka.index(&norm("jane.doe@example.com")));
        assert_eq!(i1.len(), 32);
        assert_ne!(i1, ka.index(&norm("jane.doe@example.org")));
        assert_ne!(i1, b.blind_index_key().index(&norm("jane.doe@example.com")));
        assert!(!i1.windows(4).any(|w| w == b"jane"), "no address in clear");
    }
}
