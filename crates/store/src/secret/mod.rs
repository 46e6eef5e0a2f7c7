//! Secrets: JSON values encrypted at rest, and the key that encrypts them.
//!
//! Each write encrypts the value's JSON text with XChaCha20-Poly1305 under a
//! fresh random 192-bit nonce (random nonces of that size never collide in
//! practice, however many writes). The secret's name and the key version are
//! authenticated as associated data, so a ciphertext moved to another name
//! does not decrypt. A wrong key or altered bytes fail authentication and
//! yield [`SecretError::Decrypt`], never garbage.
//!
//! The key comes from [`SECRET_KEY_ENV`] or, when that is unset, from the
//! file [`SECRET_KEY_FILE`] in the data directory, created on first use with
//! mode 0600; a key file others can read is refused. Every row records the
//! version of the key that wrote it, so keys can be rotated later.

pub(crate) mod sql;

use std::{
    ffi::OsString,
    fmt,
    fs::{self, File, OpenOptions},
    io::{self, Write as _},
    path::{Path, PathBuf},
};

use base64::{
    Engine as _, alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig, general_purpose::STANDARD},
};
use chacha20poly1305::{
    AeadCore, KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, OsRng, Payload, rand_core::RngCore},
};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::{
    error::{DbResultExt, SecretError, SecretKeyError},
    kv::{MAX_VALUE_BYTES, key_problem, quota::within_quota, shown_key},
    store::{Store, with_backend},
};

/// The environment variable that holds the secret key (base64 or hex of 32 bytes).
pub const SECRET_KEY_ENV: &str = "CLOCKWORK_SECRET_KEY";
/// The key file's name inside the data directory.
pub const SECRET_KEY_FILE: &str = "secret.key";

/// The version recorded with every secret written by a key of this build.
/// Rotation will introduce higher versions next to this one.
const KEY_VERSION: i32 = 1;
const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;

/// Base64 as people paste it: padded or not, standard or URL-safe alphabet.
const BASE64_STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const BASE64_URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The 256-bit key that encrypts secrets at rest. Its bytes are wiped from
/// memory when it is dropped and never appear in `Debug` output.
#[derive(Clone)]
pub struct SecretKey {
    bytes: Zeroizing<[u8; KEY_BYTES]>,
    version: i32,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl SecretKey {
    /// A new random key from the operating system's generator.
    pub fn generate() -> SecretKey {
        let mut bytes = Zeroizing::new([0; KEY_BYTES]);
        OsRng.fill_bytes(bytes.as_mut());
        Self::with_bytes(bytes)
    }

    /// The key made of these 32 bytes.
    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> SecretKey {
        Self::with_bytes(Zeroizing::new(bytes))
    }

    fn with_bytes(bytes: Zeroizing<[u8; KEY_BYTES]>) -> SecretKey {
        SecretKey {
            bytes,
            version: KEY_VERSION,
        }
    }

    /// The key from the environment variable [`SECRET_KEY_ENV`] when it is
    /// set, else from `data_dir`/[`SECRET_KEY_FILE`], which is created (with
    /// a new random key, mode 0600) when missing.
    pub fn from_env_or_file(data_dir: &Path) -> Result<SecretKey, SecretKeyError> {
        Self::from_env_value_or_file(std::env::var_os(SECRET_KEY_ENV), data_dir)
    }

    fn from_env_value_or_file(
        env_value: Option<OsString>,
        data_dir: &Path,
    ) -> Result<SecretKey, SecretKeyError> {
        let Some(value) = env_value else {
            return Self::load_or_create_file(&data_dir.join(SECRET_KEY_FILE));
        };
        let invalid = |reason| SecretKeyError::InvalidEnv {
            var: SECRET_KEY_ENV,
            reason,
        };
        let text = value.to_str().ok_or(invalid("it is not UTF-8"))?;
        parse_key(text).map(Self::with_bytes).map_err(invalid)
    }

    /// The key in the file at `path`, or a new random key written there when
    /// the file does not exist (its directory is created too).
    ///
    /// On Unix the file is created with mode 0600, and an existing file that
    /// group or others may access is refused with
    /// [`SecretKeyError::InsecureFile`]. Of processes racing to create the
    /// file, one writes it and all use its key.
    pub fn load_or_create_file(path: &Path) -> Result<SecretKey, SecretKeyError> {
        let io_error = |source| SecretKeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        match fs::metadata(path) {
            Ok(_) => read_key_file(path),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let key = SecretKey::generate();
                match write_key_file_once(path, &key.bytes) {
                    Ok(Created::Yes) => Ok(key),
                    Ok(Created::NoAnotherWriterWon) => read_key_file(path),
                    Err(error) => Err(io_error(error)),
                }
            }
            Err(error) => Err(io_error(error)),
        }
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.bytes.as_ref().into())
    }

    pub(crate) fn encrypt(&self, key: &str, json: &str) -> Option<Sealed> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = associated_data(key, self.version);
        let ciphertext = self
            .cipher()
            .encrypt(
                &nonce,
                Payload {
                    msg: json.as_bytes(),
                    aad: &aad,
                },
            )
            .ok()?;
        Some(Sealed {
            version: self.version,
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    pub(crate) fn decrypt(
        &self,
        key: &str,
        sealed: &Sealed,
    ) -> Result<Zeroizing<Vec<u8>>, SecretError> {
        let decrypt_error = || SecretError::Decrypt {
            key: shown_key(key),
        };
        if sealed.version != self.version {
            return Err(SecretError::KeyVersionMismatch {
                key: shown_key(key),
                stored: sealed.version,
                configured: self.version,
            });
        }
        if sealed.nonce.len() != NONCE_BYTES {
            return Err(decrypt_error());
        }
        let aad = associated_data(key, sealed.version);
        self.cipher()
            .decrypt(
                XNonce::from_slice(&sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| decrypt_error())
    }
}

/// A secret as stored.
pub(crate) struct Sealed {
    pub(crate) version: i32,
    pub(crate) nonce: Vec<u8>,
    pub(crate) ciphertext: Vec<u8>,
}

/// Binds a ciphertext to its secret's name and key version.
fn associated_data(key: &str, version: i32) -> Vec<u8> {
    format!("clockwork secret\0v{version}\0{key}").into_bytes()
}

/// The 32 key bytes in `text`: 64 hex digits, or base64 (standard or
/// URL-safe, padded or not). Surrounding whitespace is ignored.
fn parse_key(text: &str) -> Result<Zeroizing<[u8; KEY_BYTES]>, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Err("it is empty");
    }
    let decoded = Zeroizing::new(
        decode_hex(text)
            .or_else(|| BASE64_STANDARD_LENIENT.decode(text).ok())
            .or_else(|| BASE64_URL_SAFE_LENIENT.decode(text).ok())
            .ok_or("it is neither base64 nor hex")?,
    );
    let mut bytes = Zeroizing::new([0; KEY_BYTES]);
    if decoded.len() != KEY_BYTES {
        return Err("it does not decode to 32 bytes");
    }
    bytes.copy_from_slice(&decoded);
    Ok(bytes)
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 2 * KEY_BYTES || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

fn read_key_file(path: &Path) -> Result<SecretKey, SecretKeyError> {
    let io_error = |source| SecretKeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io_error)?;
    let metadata = file.metadata().map_err(io_error)?;
    if !metadata.is_file() {
        return Err(SecretKeyError::InvalidFile {
            path: path.to_path_buf(),
            reason: "it is not a regular file",
        });
    }
    refuse_if_shared(path, &metadata)?;
    let mut text = Zeroizing::new(String::new());
    io::Read::read_to_string(&mut file, &mut text).map_err(io_error)?;
    parse_key(&text)
        .map(SecretKey::with_bytes)
        .map_err(|reason| SecretKeyError::InvalidFile {
            path: path.to_path_buf(),
            reason,
        })
}

#[cfg(unix)]
fn refuse_if_shared(path: &Path, metadata: &fs::Metadata) -> Result<(), SecretKeyError> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = metadata.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(SecretKeyError::InsecureFile {
            path: path.to_path_buf(),
            mode: mode & 0o777,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn refuse_if_shared(_path: &Path, _metadata: &fs::Metadata) -> Result<(), SecretKeyError> {
    Ok(())
}

enum Created {
    Yes,
    NoAnotherWriterWon,
}

/// Writes the key file only if it does not exist yet, never leaving a
/// partly written file under its name: the key goes to a private temporary
/// file that is then hard-linked into place, which fails if another writer
/// got there first.
fn write_key_file_once(path: &Path, key: &[u8; KEY_BYTES]) -> io::Result<Created> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)?;
    let temporary = temporary_path(path);
    write_private_file(&temporary, key)?;
    let linked = fs::hard_link(&temporary, path);
    // The link (if made) keeps the key; the temporary name goes either way.
    let _ = fs::remove_file(&temporary);
    match linked {
        Ok(()) => sync_dir(dir).map(|()| Created::Yes),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            Ok(Created::NoAnotherWriterWon)
        }
        Err(error) => Err(error),
    }
}

/// A name beside `path` that no other writer, thread or process, picks.
fn temporary_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(".");
    name.push(path.file_name().unwrap_or_else(|| SECRET_KEY_FILE.as_ref()));
    name.push(format!(".{:016x}.tmp", OsRng.next_u64()));
    path.with_file_name(name)
}

fn write_private_file(path: &Path, key: &[u8; KEY_BYTES]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    let text = Zeroizing::new(format!("{}\n", STANDARD.encode(key)));
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Makes a new directory entry durable, so a crash cannot lose the key file.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

impl Store {
    pub(crate) fn secret_key(&self) -> Result<&SecretKey, SecretError> {
        self.secret_key.as_deref().ok_or(SecretError::NoKey)
    }

    /// The secret stored under `key`, decrypted, or `None` when there is none.
    pub async fn secret_get(&self, key: &str) -> Result<Option<Value>, SecretError> {
        check_secret_key(key)?;
        let secret_key = self.secret_key()?;
        let row: Option<(i32, Vec<u8>, Vec<u8>)> = with_backend!(self, |pool, _sql| {
            sqlx::query_as(sql::SECRET_GET)
                .bind(key)
                .fetch_optional(pool)
                .await
                .db()?
        });
        let Some((version, nonce, ciphertext)) = row else {
            return Ok(None);
        };
        let sealed = Sealed {
            version,
            nonce,
            ciphertext,
        };
        let plaintext = secret_key.decrypt(key, &sealed)?;
        // Authenticated plaintext was JSON when written; anything else would
        // mean a forged ciphertext, which authentication already excludes.
        serde_json::from_slice(&plaintext)
            .map(Some)
            .map_err(|_| SecretError::Decrypt {
                key: shown_key(key),
            })
    }

    /// Encrypts `value` and stores it under `key`, replacing any previous secret.
    pub async fn secret_set(&self, key: &str, value: &Value) -> Result<(), SecretError> {
        check_secret_key(key)?;
        let secret_key = self.secret_key()?;
        let json = Zeroizing::new(value.to_string());
        let too_large = || SecretError::ValueTooLarge {
            key: shown_key(key),
            size: json.len(),
            max: MAX_VALUE_BYTES,
        };
        if json.len() > MAX_VALUE_BYTES {
            return Err(too_large());
        }
        // Encryption fails only for messages of hundreds of gigabytes.
        let sealed = secret_key.encrypt(key, &json).ok_or_else(too_large)?;
        let now = self.now_ms();
        within_quota!(self, SecretError, |tx, _sql| {
            sqlx::query(sql::SECRET_UPSERT)
                .bind(key)
                .bind(sealed.version)
                .bind(&sealed.nonce)
                .bind(&sealed.ciphertext)
                .bind(now)
                .execute(&mut *tx)
                .await
                .db()
                .map(drop)
        });
        Ok(())
    }

    /// Deletes the secret under `key`; succeeds whether or not it existed.
    /// Needs no secret key.
    pub async fn secret_delete(&self, key: &str) -> Result<(), SecretError> {
        check_secret_key(key)?;
        within_quota!(self, SecretError, |tx, _sql| {
            sqlx::query(sql::SECRET_DELETE)
                .bind(key)
                .execute(&mut *tx)
                .await
                .db()
                .map(drop)
        });
        Ok(())
    }
}

fn check_secret_key(key: &str) -> Result<(), SecretError> {
    key_problem(key).map_or(Ok(()), |reason| {
        Err(SecretError::InvalidKey {
            key: shown_key(key),
            reason,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn counting_bytes() -> [u8; 32] {
        std::array::from_fn(|i| i as u8)
    }

    #[test]
    fn keys_parse_from_hex_and_every_base64_flavour() {
        let expected = counting_bytes();
        let padded = STANDARD.encode(expected);
        let unpadded = padded.trim_end_matches('=').to_string();
        let url_safe = base64::engine::general_purpose::URL_SAFE.encode([0xfb; 32]);
        for text in [
            HEX,
            &HEX.to_uppercase(),
            &padded,
            &unpadded,
            &format!(" {padded}\n"),
        ] {
            assert_eq!(*parse_key(text).unwrap(), expected, "{text:?}");
        }
        assert_eq!(*parse_key(&url_safe).unwrap(), [0xfb; 32]);
    }

    #[test]
    fn malformed_keys_are_refused_with_a_reason() {
        assert_eq!(parse_key("").unwrap_err(), "it is empty");
        assert_eq!(
            parse_key("not a key!").unwrap_err(),
            "it is neither base64 nor hex"
        );
        assert_eq!(
            parse_key(&STANDARD.encode([1; 16])).unwrap_err(),
            "it does not decode to 32 bytes"
        );
        assert!(parse_key(&HEX[..62]).is_err());
        assert!(parse_key(&format!("{HEX}00")).is_err());
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::from_env_value_or_file(Some(HEX.into()), dir.path()).unwrap();
        assert_eq!(*key.bytes, counting_bytes());
        assert!(!dir.path().join(SECRET_KEY_FILE).exists());
    }

    #[test]
    fn a_bad_environment_value_is_a_clear_error_without_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let error =
            SecretKey::from_env_value_or_file(Some("hunter2".into()), dir.path()).unwrap_err();
        assert!(matches!(
            error,
            SecretKeyError::InvalidEnv {
                var: SECRET_KEY_ENV,
                ..
            }
        ));
        let message = error.to_string();
        assert!(message.contains(SECRET_KEY_ENV), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[cfg(unix)]
    #[test]
    fn a_non_utf8_environment_value_is_refused() {
        use std::os::unix::ffi::OsStringExt as _;
        let dir = tempfile::tempdir().unwrap();
        let error =
            SecretKey::from_env_value_or_file(Some(OsString::from_vec(vec![0xff])), dir.path())
                .unwrap_err();
        assert!(matches!(
            error,
            SecretKeyError::InvalidEnv {
                reason: "it is not UTF-8",
                ..
            }
        ));
    }

    #[test]
    fn without_the_environment_the_file_is_created_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let first = SecretKey::from_env_value_or_file(None, &data_dir).unwrap();
        let second = SecretKey::from_env_value_or_file(None, &data_dir).unwrap();
        assert_eq!(*first.bytes, *second.bytes);
        let leftovers: Vec<_> = fs::read_dir(&data_dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, [OsString::from(SECRET_KEY_FILE)]);
    }

    #[test]
    fn generated_keys_differ() {
        assert_ne!(*SecretKey::generate().bytes, *SecretKey::generate().bytes);
    }

    #[test]
    fn debug_output_hides_the_key() {
        let key = SecretKey::from_bytes([0xab; 32]);
        let shown = format!("{key:?}");
        assert!(
            !shown.contains("171") && !shown.to_lowercase().contains("ab, "),
            "{shown}"
        );
    }

    #[test]
    fn ciphertexts_open_only_with_their_key_name_and_bytes() {
        let key = SecretKey::generate();
        let sealed = key.encrypt("token", "\"s3cret\"").unwrap();
        assert_eq!(*key.decrypt("token", &sealed).unwrap(), b"\"s3cret\"");
        assert!(matches!(
            SecretKey::generate().decrypt("token", &sealed),
            Err(SecretError::Decrypt { .. })
        ));
        assert!(matches!(
            key.decrypt("other", &sealed),
            Err(SecretError::Decrypt { .. })
        ));
        let mut tampered = Sealed {
            ciphertext: sealed.ciphertext.clone(),
            nonce: sealed.nonce.clone(),
            version: 1,
        };
        tampered.ciphertext[0] ^= 1;
        assert!(matches!(
            key.decrypt("token", &tampered),
            Err(SecretError::Decrypt { .. })
        ));
    }

    #[test]
    fn each_write_uses_a_fresh_nonce() {
        let key = SecretKey::generate();
        let a = key.encrypt("k", "1").unwrap();
        let b = key.encrypt("k", "1").unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
    }
}
