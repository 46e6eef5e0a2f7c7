//! Secret values a run has seen, and their replacement by `***` in whatever
//! leaves the run: log lines, the result, the error and HTTP call records.
//!
//! A run learns a secret when it reads one (`kvs.getSecret`, storage
//! secrets) and from its site credentials. Each secret is also masked in
//! base64 at any byte alignment (a `Basic` header a script built itself
//! holds `base64(email:token)`), and a secret split over two log lines is
//! masked on both: a line ending with the start of a secret, or starting
//! with its end, has that part masked too.

use std::sync::{PoisonError, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use serde_json::Value;

/// What a masked value is replaced by.
pub(crate) const MASK: &str = "***";
/// Shorter values are not masked: `true`, `123` and the like would blank
/// out ordinary text.
const MIN_SECRET_CHARS: usize = 4;
/// The shortest piece of a split secret that is masked at a line's edge.
const MIN_FRAGMENT_CHARS: usize = 4;
/// The shortest base64 form masked (six bytes of the secret).
const MIN_ENCODED_CHARS: usize = 8;

/// The secrets of one run. Cheap to share; learning and masking may happen
/// from any thread.
#[derive(Debug, Default)]
pub(crate) struct Masker {
    secrets: RwLock<Secrets>,
}

#[derive(Debug, Default)]
struct Secrets {
    /// As written, longest first (so a secret containing another is masked whole).
    plain: Vec<String>,
    /// Base64 forms of the plain ones.
    encoded: Vec<String>,
}

impl Masker {
    /// Remembers `secret` (and its base64 forms) for masking.
    pub(crate) fn learn(&self, secret: &str) {
        if secret.chars().count() < MIN_SECRET_CHARS {
            return;
        }
        let mut secrets = self.secrets.write().unwrap_or_else(PoisonError::into_inner);
        if secrets.plain.iter().any(|known| known == secret) {
            return;
        }
        secrets.plain.push(secret.to_owned());
        secrets
            .plain
            .sort_by_key(|known| std::cmp::Reverse(known.len()));
        for encoded in base64_forms(secret.as_bytes()) {
            if !secrets.encoded.contains(&encoded) {
                secrets.encoded.push(encoded);
            }
        }
        secrets
            .encoded
            .sort_by_key(|known| std::cmp::Reverse(known.len()));
    }

    /// Remembers every string (and number) in a secret's JSON value.
    pub(crate) fn learn_json(&self, value: &Value) {
        match value {
            Value::String(text) => self.learn(text),
            Value::Number(number) => self.learn(&number.to_string()),
            Value::Array(items) => items.iter().for_each(|item| self.learn_json(item)),
            Value::Object(fields) => fields.values().for_each(|item| self.learn_json(item)),
            Value::Null | Value::Bool(_) => {}
        }
    }

    /// True when nothing is known: masking is a no-op.
    fn is_empty(&self) -> bool {
        self.secrets
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .plain
            .is_empty()
    }

    /// `text` with every known secret, its base64 forms and, on each line,
    /// a secret's start at the line's end or its end at the line's start
    /// replaced by `***`.
    pub(crate) fn text(&self, text: &str) -> String {
        if self.is_empty() {
            return text.to_owned();
        }
        let secrets = self.secrets.read().unwrap_or_else(PoisonError::into_inner);
        let mut masked = text.to_owned();
        for known in secrets.plain.iter().chain(&secrets.encoded) {
            if masked.contains(known.as_str()) {
                masked = masked.replace(known.as_str(), MASK);
            }
        }
        masked
            .split('\n')
            .map(|line| mask_edges(line, &secrets.plain))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// `value` with every string in it masked (object keys too).
    pub(crate) fn json(&self, value: Value) -> Value {
        if self.is_empty() {
            return value;
        }
        match value {
            Value::String(text) => Value::String(self.text(&text)),
            Value::Array(items) => Value::Array(items.into_iter().map(|v| self.json(v)).collect()),
            Value::Object(fields) => Value::Object(
                fields
                    .into_iter()
                    .map(|(key, v)| (self.text(&key), self.json(v)))
                    .collect(),
            ),
            Value::Number(number) => {
                let text = number.to_string();
                if self.text(&text) == text {
                    Value::Number(number)
                } else {
                    Value::String(MASK.to_owned())
                }
            }
            other => other,
        }
    }
}

/// The base64 text any encoding of a byte stream containing `secret`
/// contains, whatever the secret's offset in the stream: the encodings of
/// its whole 3-byte groups at each of the three alignments.
fn base64_forms(secret: &[u8]) -> Vec<String> {
    let mut forms = Vec::new();
    for skip in 0..3 {
        let Some(rest) = secret.get(skip..) else {
            break;
        };
        let whole = rest.len() / 3 * 3;
        for engine in [&STANDARD, &URL_SAFE] {
            let encoded = engine.encode(&rest[..whole]);
            if encoded.len() >= MIN_ENCODED_CHARS && !forms.contains(&encoded) {
                forms.push(encoded);
            }
        }
    }
    forms
}

/// `line` with a secret's beginning at its end, or a secret's ending at its
/// start, masked: the halves of a secret logged over two lines.
fn mask_edges(line: &str, secrets: &[String]) -> String {
    let mut start = 0;
    let mut end = line.len();
    for secret in secrets {
        if let Some(length) = longest_edge(secret, |piece| line.ends_with(piece), true) {
            end = end.min(line.len() - length);
        }
        if let Some(length) = longest_edge(secret, |piece| line.starts_with(piece), false) {
            start = start.max(length);
        }
    }
    if start == 0 && end == line.len() {
        return line.to_owned();
    }
    if start >= end {
        return MASK.to_owned();
    }
    let mut masked = String::new();
    if start > 0 {
        masked.push_str(MASK);
    }
    masked.push_str(&line[start..end]);
    if end < line.len() {
        masked.push_str(MASK);
    }
    masked
}

/// The byte length of the longest proper prefix (or suffix) of `secret`, at
/// least [`MIN_FRAGMENT_CHARS`] long, that `matches`.
fn longest_edge(secret: &str, matches: impl Fn(&str) -> bool, prefix: bool) -> Option<usize> {
    let boundaries: Vec<usize> = secret
        .char_indices()
        .map(|(index, _)| index)
        .skip(1)
        .collect();
    let pieces = boundaries.iter().map(|&index| {
        if prefix {
            &secret[..index]
        } else {
            &secret[index..]
        }
    });
    pieces
        .filter(|piece| piece.chars().count() >= MIN_FRAGMENT_CHARS)
        .filter(|piece| matches(piece))
        .map(str::len)
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masker(secrets: &[&str]) -> Masker {
        let masker = Masker::default();
        for secret in secrets {
            masker.learn(secret);
        }
        masker
    }

    #[test]
    fn whole_secrets_are_masked_wherever_they_are() {
        let masker = masker(&["hunter2-secret"]);
        assert_eq!(
            masker.text("token=hunter2-secret; again hunter2-secret."),
            "token=***; again ***."
        );
        assert_eq!(masker.text("nothing here"), "nothing here");
    }

    #[test]
    fn short_values_are_not_secrets_worth_masking() {
        let masker = masker(&["abc", "true"]);
        assert_eq!(masker.text("abc is true"), "abc is ***");
    }

    #[test]
    fn base64_at_any_alignment_is_masked() {
        let masker = masker(&["s3cr3t-api-token"]);
        for prefix in ["", "a", "ab", "bot@example.com:"] {
            let header = STANDARD.encode(format!("{prefix}s3cr3t-api-token"));
            let masked = masker.text(&format!("Authorization: Basic {header}"));
            assert!(
                !masked.contains(&header[header.len() / 2..header.len() - 4]),
                "{prefix:?}: {masked}"
            );
            assert!(masked.contains(MASK), "{prefix:?}: {masked}");
        }
    }

    #[test]
    fn a_secret_split_over_two_lines_is_masked_on_both() {
        let masker = masker(&["0123456789abcdef"]);
        assert_eq!(masker.text("first half: 01234567"), "first half: ***");
        assert_eq!(masker.text("89abcdef is the rest"), "*** is the rest");
        assert_eq!(
            masker.text("one message\n  0123456\n789abcdef"),
            "one message\n  ***\n***"
        );
        // Three characters are no evidence.
        assert_eq!(masker.text("ends 012"), "ends 012");
    }

    #[test]
    fn json_values_are_masked_throughout() {
        let masker = Masker::default();
        masker.learn_json(
            &serde_json::json!({"user": "bot", "password": "pa55word!", "pin": 987654}),
        );
        let masked = masker.json(serde_json::json!({
            "echo": ["pa55word!", {"pa55word!": 987654}],
            "fine": 12,
        }));
        assert_eq!(
            masked,
            serde_json::json!({"echo": ["***", {"***": "***"}], "fine": 12})
        );
    }
}
