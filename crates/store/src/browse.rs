//! The storage browser's view of what scripts keep: key-value entries and
//! secrets side by side in key order, a page at a time. A secret shows its
//! name and size only; its value is never read here (nor decrypted).

use serde_json::Value;

use crate::{
    codec::{count, decode_cursor, encode_cursor},
    error::{DbResultExt, StoreError},
    store::{Store, with_backend},
};

/// One entry of the storage browser.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageItem {
    /// The key (or the secret's name).
    pub key: String,
    /// The value; `None` for a secret.
    pub value: Option<Value>,
    /// Whether it is a secret (`storage.setSecret`).
    pub secret: bool,
    /// The value's size in bytes (JSON text; a secret's plaintext).
    pub size_bytes: u64,
}

/// A page of [`StorageItem`]s.
#[derive(Debug, Clone, PartialEq)]
pub struct StoragePage {
    /// The entries, by key (an entry before a secret of the same key).
    pub items: Vec<StorageItem>,
    /// Present when more follow: pass it back as `cursor`.
    pub next_cursor: Option<String>,
}

const BROWSE_CURSOR: &str = "storage";
/// The AEAD tag that every ciphertext carries beyond its plaintext.
const TAG_BYTES: i64 = 16;

impl Store {
    /// Live entries and secrets whose key starts with `prefix`, in key
    /// order, `limit` (1-500) at a time.
    pub async fn storage_browse(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<StoragePage, StoreError> {
        let (after_key, after_secret) = match cursor {
            Some(cursor) => {
                let text = decode_cursor(BROWSE_CURSOR, cursor)?;
                let (flag, key) = text.split_at_checked(1).ok_or(StoreError::InvalidCursor)?;
                match flag {
                    "0" => (key.to_owned(), 0_i64),
                    "1" => (key.to_owned(), 1_i64),
                    _ => return Err(StoreError::InvalidCursor),
                }
            }
            None => (String::new(), -1_i64),
        };
        if prefix.contains('\0') {
            return Ok(StoragePage {
                items: Vec::new(),
                next_cursor: None,
            });
        }
        let limit = limit.clamp(1, crate::MAX_LIST_LIMIT);
        let upper = crate::kv::prefix_upper_bound(prefix);
        let now = self.now_ms();
        let rows: Vec<(String, i64, Option<String>, i64)> = with_backend!(self, |pool, sql| {
            sqlx::query_as(sql.kv.storage_browse)
                .bind(prefix)
                .bind(&after_key)
                .bind(after_secret)
                .bind(now)
                .bind(upper.as_deref())
                .bind(i64::from(limit) + 1)
                .fetch_all(pool)
                .await
                .db()?
        });
        let mut items = rows
            .into_iter()
            .map(|(key, secret, value, size)| {
                let value = match value {
                    Some(text) => Some(crate::codec::from_json("storage value", &text)?),
                    None => None,
                };
                let secret = secret == 1;
                let size = if secret { size - TAG_BYTES } else { size };
                Ok(StorageItem {
                    key,
                    value,
                    secret,
                    size_bytes: count(size),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|item| {
                let flag = if item.secret { "1" } else { "0" };
                encode_cursor(BROWSE_CURSOR, &format!("{flag}{}", item.key))
            })
        } else {
            None
        };
        Ok(StoragePage { items, next_cursor })
    }
}
