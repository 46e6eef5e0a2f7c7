//! Hashes and HMACs for `crypto.subtle` and Node's `createHash`/`createHmac`,
//! from the RustCrypto crates; one place for both surfaces.

use hmac::{Hmac, KeyInit, Mac};
use rquickjs::{ArrayBuffer, Ctx, Exception, Object, Value};
use sha2::Digest;

use crate::bytes::copy_bytes;

/// The hash functions scripts may name (Node's names, lower case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
    Md5,
}

impl Algorithm {
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "sha1" => Self::Sha1,
            "sha256" => Self::Sha256,
            "sha384" => Self::Sha384,
            "sha512" => Self::Sha512,
            "md5" => Self::Md5,
            _ => return None,
        })
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Self::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Self::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(data).to_vec(),
            Self::Md5 => md5::Md5::digest(data).to_vec(),
        }
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        fn mac<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
            // HMAC takes keys of any length (longer ones are hashed first).
            let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else {
                return Vec::new();
            };
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        match self {
            Self::Sha1 => mac::<Hmac<sha1::Sha1>>(key, data),
            Self::Sha256 => mac::<Hmac<sha2::Sha256>>(key, data),
            Self::Sha384 => mac::<Hmac<sha2::Sha384>>(key, data),
            Self::Sha512 => mac::<Hmac<sha2::Sha512>>(key, data),
            Self::Md5 => mac::<Hmac<md5::Md5>>(key, data),
        }
    }
}

/// Adds `digest(alg, bytes)` and `hmac(alg, key, bytes)` (→ ArrayBuffer) to `natives`.
pub(crate) fn register<'js>(ctx: &Ctx<'js>, natives: &Object<'js>) -> rquickjs::Result<()> {
    natives.set(
        "digest",
        crate::host_fn::function(
            ctx.clone(),
            |ctx: Ctx<'js>, name: String, data: Value<'js>| {
                let algorithm = algorithm(&ctx, &name)?;
                let data = bytes(&ctx, &data)?;
                ArrayBuffer::new_copy(ctx, algorithm.digest(&data))
            },
        )?,
    )?;
    natives.set(
        "hmac",
        crate::host_fn::function(
            ctx.clone(),
            |ctx: Ctx<'js>, name: String, key: Value<'js>, data: Value<'js>| {
                let algorithm = algorithm(&ctx, &name)?;
                let key = bytes(&ctx, &key)?;
                let data = bytes(&ctx, &data)?;
                ArrayBuffer::new_copy(ctx, algorithm.hmac(&key, &data))
            },
        )?,
    )
}

fn algorithm(ctx: &Ctx<'_>, name: &str) -> rquickjs::Result<Algorithm> {
    Algorithm::named(name)
        .ok_or_else(|| Exception::throw_type(ctx, &format!("Digest method not supported: {name}")))
}

fn bytes(ctx: &Ctx<'_>, value: &Value<'_>) -> rquickjs::Result<Vec<u8>> {
    copy_bytes(value).ok_or_else(|| Exception::throw_type(ctx, "expected bytes (a Uint8Array)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn known_answers() {
        // RFC 3174, FIPS 180-2 and RFC 1321 test vectors for "abc".
        let sha1 = Algorithm::named("sha1").unwrap();
        assert_eq!(
            hex(&sha1.digest(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        let md5 = Algorithm::named("md5").unwrap();
        assert_eq!(hex(&md5.digest(b"abc")), "900150983cd24fb0d6963f7d28e17f72");
        // RFC 4231 test case 2.
        let sha256 = Algorithm::named("sha256").unwrap();
        assert_eq!(
            hex(&sha256.hmac(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(Algorithm::named("sha3"), None);
    }
}
