//! Secrets at rest: AES-256-GCM with key ids, so keys can be rotated, bound
//! to where they are stored.
//!
//! Every sealed value names the key it was sealed with:
//! `v2.<key id>.<base64(nonce ‖ ciphertext)>`. The key id is the first 8 hex
//! digits of the key's SHA-256, so it identifies a key without revealing it.
//! A `v2` value is sealed with its [`Place`] (table, column and row id) as
//! associated data: copied into another row, it no longer opens. New values
//! are always sealed with the current key and format; `v1` values (no
//! associated data) and values sealed with a previous key stay readable, and
//! `switchboard reseal` rewrites them.
//!
//! Architecture invariant: plaintext secrets exist only in memory, between
//! `open` and the request they are injected into. Nothing here logs.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Values sealed before they were bound to their place.
const LEGACY_FORMAT: &str = "v1";
const FORMAT: &str = "v2";

/// Where a sealed value is stored; it is bound to it.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub table: &'a str,
    pub column: &'a str,
    /// The row's id (an account id, a connection id, a state's hash).
    pub row: &'a str,
}

impl<'a> Place<'a> {
    /// An account's credentials.
    pub fn account_credentials(id: &'a str) -> Place<'a> {
        Place {
            table: "connected_accounts",
            column: "credentials",
            row: id,
        }
    }

    /// A connection's client credentials.
    pub fn connection_secret(id: &'a str) -> Place<'a> {
        Place {
            table: "connections",
            column: "secret",
            row: id,
        }
    }

    /// A webhook endpoint's signing secret.
    pub fn webhook_secret(id: &'a str) -> Place<'a> {
        Place {
            table: "webhooks",
            column: "secret",
            row: id,
        }
    }

    /// An authorization's PKCE verifier (the row is the state's hash).
    pub fn code_verifier(state_hash: &'a str) -> Place<'a> {
        Place {
            table: "oauth_states",
            column: "code_verifier",
            row: state_hash,
        }
    }

    fn associated_data(&self) -> String {
        format!("switchboard/{}/{}/{}", self.table, self.column, self.row)
    }
}
const NONCE_LEN: usize = 12;

/// A fresh random token for links and states: 32 bytes, base64url.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The SHA-256 of a token, hex: what is stored in its place, so a leaked
/// database holds no usable link or state.
pub fn fingerprint(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The encryption keys: one current, any number of previous ones.
pub struct Vault {
    current: Key,
    previous: Vec<Key>,
}

struct Key {
    id: String,
    cipher: Aes256Gcm,
}

/// Why a key or a sealed value could not be used. Never carries secret bytes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VaultError {
    #[error("an encryption key must be the base64 of exactly 32 bytes")]
    BadKey,
    #[error("the sealed value is not in the expected format")]
    BadFormat,
    #[error(
        "no configured key has id `{0}`; add the key that sealed this value to the previous keys"
    )]
    UnknownKey(String),
    #[error("the sealed value does not authenticate (wrong key or tampered data)")]
    Tampered,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("current", &self.current.id)
            .field(
                "previous",
                &self.previous.iter().map(|k| &k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Vault {
    /// Builds a vault from base64 keys: the current one and previous ones.
    pub fn new(current: &str, previous: &[String]) -> Result<Vault, VaultError> {
        Ok(Vault {
            current: Key::from_base64(current)?,
            previous: previous
                .iter()
                .map(|k| Key::from_base64(k))
                .collect::<Result<_, _>>()?,
        })
    }

    /// A fresh random key, base64-encoded.
    pub fn generate_key() -> String {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        STANDARD.encode(bytes)
    }

    /// The id of the current key.
    pub fn current_key_id(&self) -> &str {
        &self.current.id
    }

    /// Seals `plaintext` for `place` with the current key.
    pub fn seal(&self, place: Place<'_>, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let aad = place.associated_data();
        let ciphertext = self
            .current
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        format!("{FORMAT}.{}.{}", self.current.id, STANDARD.encode(out))
    }

    /// Opens the value sealed for `place`, with whichever configured key
    /// sealed it. A value moved from another place does not open.
    pub fn open(&self, place: Place<'_>, sealed: &str) -> Result<Vec<u8>, VaultError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(format), Some(id), Some(data)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(VaultError::BadFormat);
        };
        let aad = match format {
            FORMAT => place.associated_data(),
            LEGACY_FORMAT => String::new(),
            _ => return Err(VaultError::BadFormat),
        };
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
            .ok_or_else(|| VaultError::UnknownKey(id.to_owned()))?;
        let bytes = STANDARD.decode(data).map_err(|_| VaultError::BadFormat)?;
        if bytes.len() < NONCE_LEN {
            return Err(VaultError::BadFormat);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        key.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Tampered)
    }

    /// Whether `sealed` is in an older format or was sealed with a key other
    /// than the current one (and so should be sealed again).
    pub fn is_stale(&self, sealed: &str) -> bool {
        let mut parts = sealed.split('.');
        parts.next() != Some(FORMAT) || parts.next() != Some(self.current.id.as_str())
    }
}

impl Key {
    fn from_base64(text: &str) -> Result<Key, VaultError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| VaultError::BadKey)?;
        if bytes.len() != 32 {
            return Err(VaultError::BadKey);
        }
        let digest = Sha256::digest(&bytes);
        let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| VaultError::BadKey)?;
        Ok(Key { id, cipher })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HERE: Place<'static> = Place {
        table: "connected_accounts",
        column: "credentials",
        row: "ca_a",
    };

    #[test]
    fn seal_and_open() {
        let vault = Vault::new(&Vault::generate_key(), &[]).unwrap();
        let sealed = vault.seal(HERE, b"xoxb-secret");
        assert!(sealed.starts_with(&format!("v2.{}.", vault.current_key_id())));
        assert!(!sealed.contains("xoxb"));
        assert_eq!(vault.open(HERE, &sealed).unwrap(), b"xoxb-secret");
        assert_ne!(
            vault.seal(HERE, b"same"),
            vault.seal(HERE, b"same"),
            "a fresh nonce every time"
        );
    }

    #[test]
    fn a_value_moved_to_another_row_or_column_does_not_open() {
        let vault = Vault::new(&Vault::generate_key(), &[]).unwrap();
        let sealed = vault.seal(Place::account_credentials("ca_a"), b"A's token");
        assert_eq!(
            vault.open(Place::account_credentials("ca_b"), &sealed),
            Err(VaultError::Tampered)
        );
        assert_eq!(
            vault.open(Place::connection_secret("ca_a"), &sealed),
            Err(VaultError::Tampered)
        );
    }

    #[test]
    fn legacy_values_still_open_and_are_stale() {
        let key = Vault::generate_key();
        let vault = Vault::new(&key, &[]).unwrap();
        // A v1 value: no associated data.
        let cipher = Key::from_base64(&key).unwrap();
        let nonce = [7u8; NONCE_LEN];
        let ciphertext = cipher
            .cipher
            .encrypt(Nonce::from_slice(&nonce), b"old".as_slice())
            .unwrap();
        let legacy = format!(
            "v1.{}.{}",
            cipher.id,
            STANDARD.encode([nonce.as_slice(), &ciphertext].concat())
        );
        assert_eq!(vault.open(HERE, &legacy).unwrap(), b"old");
        assert!(vault.is_stale(&legacy));
        assert!(!vault.is_stale(&vault.seal(HERE, b"new")));
    }

    #[test]
    fn rotation_keeps_old_values_readable() {
        let old_key = Vault::generate_key();
        let old = Vault::new(&old_key, &[]).unwrap();
        let sealed_old = old.seal(HERE, b"old secret");

        let rotated = Vault::new(&Vault::generate_key(), &[old_key]).unwrap();
        assert_eq!(rotated.open(HERE, &sealed_old).unwrap(), b"old secret");
        assert!(rotated.is_stale(&sealed_old));
        let sealed_new = rotated.seal(HERE, b"new secret");
        assert!(!rotated.is_stale(&sealed_new));
        assert_eq!(rotated.open(HERE, &sealed_new).unwrap(), b"new secret");

        let without_old = Vault::new(&Vault::generate_key(), &[]).unwrap();
        assert!(matches!(
            without_old.open(HERE, &sealed_old),
            Err(VaultError::UnknownKey(_))
        ));
    }

    #[test]
    fn tampering_and_bad_input_are_refused() {
        let vault = Vault::new(&Vault::generate_key(), &[]).unwrap();
        let sealed = vault.seal(HERE, b"secret");
        let (prefix, data) = sealed.rsplit_once('.').unwrap();
        let mut bytes = STANDARD.decode(data).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        let tampered = format!("{prefix}.{}", STANDARD.encode(bytes));
        assert_eq!(vault.open(HERE, &tampered), Err(VaultError::Tampered));
        assert_eq!(vault.open(HERE, "nonsense"), Err(VaultError::BadFormat));
        assert_eq!(Vault::new("c2hvcnQ=", &[]).unwrap_err(), VaultError::BadKey);
    }
}
