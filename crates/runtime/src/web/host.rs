//! Host functions the JavaScript side of the web globals calls: WHATWG URL
//! parsing, form encoding, UTF-8, randomness, time zones and engine
//! introspection the language cannot do itself (promise state, proxy target).
//!
//! None of them touches files, the environment or processes; randomness comes
//! from the operating system's CSPRNG and is the only thing read from the host.

use rquickjs::{
    Array, ArrayBuffer, Ctx, Exception, Object, Result, TypedArray, Value, function::Opt,
    promise::PromiseState,
};
use url::{Url, form_urlencoded, quirks};

/// Builds the `host` object handed to every web module factory.
pub(super) fn object<'js>(ctx: &Ctx<'js>) -> Result<Object<'js>> {
    let host = Object::new(ctx.clone())?;
    host.set(
        "urlParse",
        crate::host_fn::function(ctx.clone(), url_parse)?,
    )?;
    host.set("urlSet", crate::host_fn::function(ctx.clone(), url_set)?)?;
    host.set(
        "formParse",
        crate::host_fn::function(ctx.clone(), form_parse)?,
    )?;
    host.set(
        "formSerialize",
        crate::host_fn::function(ctx.clone(), form_serialize)?,
    )?;
    host.set(
        "utf8Encode",
        crate::host_fn::function(ctx.clone(), utf8_encode)?,
    )?;
    host.set(
        "utf8EncodeInto",
        crate::host_fn::function(ctx.clone(), utf8_encode_into)?,
    )?;
    host.set(
        "utf8Decode",
        crate::host_fn::function(ctx.clone(), utf8_decode)?,
    )?;
    host.set(
        "randomBytes",
        crate::host_fn::function(ctx.clone(), random_bytes)?,
    )?;
    host.set(
        "randomUUID",
        crate::host_fn::function(ctx.clone(), random_uuid)?,
    )?;
    host.set(
        "promiseState",
        crate::host_fn::function(ctx.clone(), promise_state)?,
    )?;
    host.set(
        "proxyTarget",
        crate::host_fn::function(ctx.clone(), proxy_target)?,
    )?;
    host.set(
        "zoneOffset",
        crate::host_fn::function(ctx.clone(), zone_offset)?,
    )?;
    crate::hashing::register(ctx, &host)?;
    crate::intl::register(ctx, &host)?;
    Ok(host)
}

/// The parts of a URL, in the order `js/url.js` reads them.
fn components(url: &Url) -> Vec<String> {
    vec![
        quirks::href(url).to_owned(),
        quirks::origin(url),
        quirks::protocol(url).to_owned(),
        quirks::username(url).to_owned(),
        quirks::password(url).to_owned(),
        quirks::host(url).to_owned(),
        quirks::hostname(url).to_owned(),
        quirks::port(url).to_owned(),
        quirks::pathname(url).to_owned(),
        quirks::search(url).to_owned(),
        quirks::hash(url).to_owned(),
    ]
}

fn parse_url(input: &str, base: Option<&str>) -> Option<Url> {
    match base {
        None => Url::parse(input).ok(),
        Some(base) => {
            let base = Url::parse(base).ok()?;
            Url::options().base_url(Some(&base)).parse(input).ok()
        }
    }
}

/// `urlParse(input, base?)` → components, or `null` when either does not parse.
fn url_parse(input: String, base: Opt<String>) -> Option<Vec<String>> {
    parse_url(&input, base.0.as_deref()).map(|url| components(&url))
}

/// `urlSet(href, part, value)` → components after the WHATWG setter of `part`
/// ran. Setters that reject a value leave the URL unchanged, as the standard
/// says; only `href` throws.
fn url_set(ctx: Ctx<'_>, href: String, part: String, value: String) -> Result<Vec<String>> {
    let Ok(mut url) = Url::parse(&href) else {
        return Err(Exception::throw_type(&ctx, "Invalid URL"));
    };
    // The setters report a rejected value with `Err(())`; the standard says to
    // ignore it and keep the URL as it was.
    let _accepted_or_ignored: std::result::Result<(), ()> = match part.as_str() {
        "href" => {
            quirks::set_href(&mut url, &value)
                .map_err(|_| Exception::throw_type(&ctx, &format!("Invalid URL: {value}")))?;
            Ok(())
        }
        "protocol" => quirks::set_protocol(&mut url, &value),
        "username" => quirks::set_username(&mut url, &value),
        "password" => quirks::set_password(&mut url, &value),
        "host" => quirks::set_host(&mut url, &value),
        "hostname" => quirks::set_hostname(&mut url, &value),
        "port" => quirks::set_port(&mut url, &value),
        "pathname" => {
            quirks::set_pathname(&mut url, &value);
            Ok(())
        }
        "search" => {
            quirks::set_search(&mut url, &value);
            Ok(())
        }
        "hash" => {
            quirks::set_hash(&mut url, &value);
            Ok(())
        }
        other => {
            return Err(Exception::throw_type(
                &ctx,
                &format!("unknown URL part {other}"),
            ));
        }
    };
    Ok(components(&url))
}

/// `formParse(query)` → `[name0, value0, name1, value1, …]`
/// (application/x-www-form-urlencoded parsing; a leading `?` is the caller's business).
fn form_parse(query: String) -> Vec<String> {
    form_urlencoded::parse(query.as_bytes())
        .flat_map(|(name, value)| [name.into_owned(), value.into_owned()])
        .collect()
}

/// `formSerialize([name0, value0, …])` → `a=1&b=x+y`.
fn form_serialize(flat: Vec<String>) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for pair in flat.chunks(2) {
        if let [name, value] = pair {
            serializer.append_pair(name, value);
        }
    }
    serializer.finish()
}

/// `utf8Encode(wellFormedString)` → ArrayBuffer of its UTF-8 bytes.
/// The caller passes a well-formed string (`toWellFormed()`), as a USVString.
fn utf8_encode<'js>(ctx: Ctx<'js>, text: String) -> Result<ArrayBuffer<'js>> {
    ArrayBuffer::new(ctx, text.into_bytes())
}

/// `utf8EncodeInto(wellFormedString, capacity)` → `[read, ArrayBuffer]`: the
/// longest prefix of whole characters whose UTF-8 fits in `capacity` bytes;
/// `read` counts UTF-16 code units, as `TextEncoder.encodeInto` reports.
fn utf8_encode_into<'js>(ctx: Ctx<'js>, text: String, capacity: usize) -> Result<Array<'js>> {
    let mut bytes = 0;
    let mut read = 0;
    for ch in text.chars() {
        if bytes + ch.len_utf8() > capacity {
            break;
        }
        bytes += ch.len_utf8();
        read += ch.len_utf16();
    }
    let prefix = text.get(..bytes).unwrap_or_default().as_bytes().to_vec();
    let out = Array::new(ctx.clone())?;
    out.set(0, read)?;
    out.set(1, ArrayBuffer::new(ctx, prefix)?)?;
    Ok(out)
}

/// `utf8Decode(uint8array, fatal, ignoreBOM)` → string. Invalid sequences
/// become U+FFFD (one per maximal subpart, as WHATWG's decoder does) unless
/// `fatal`, which throws a TypeError.
fn utf8_decode(
    ctx: Ctx<'_>,
    array: TypedArray<'_, u8>,
    fatal: bool,
    ignore_bom: bool,
) -> Result<String> {
    let Some(copy) = copy_bytes(&array) else {
        return Err(Exception::throw_type(
            &ctx,
            "Cannot decode a detached ArrayBuffer",
        ));
    };
    let mut bytes = copy.as_slice();
    if !ignore_bom {
        bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    }
    if fatal {
        return std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| {
            Exception::throw_type(&ctx, "The encoded data was not valid for encoding utf-8")
        });
    }
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

/// The bytes of a Uint8Array, copied out (`None` if its buffer is detached).
#[allow(unsafe_code)]
fn copy_bytes(array: &TypedArray<'_, u8>) -> Option<Vec<u8>> {
    // SAFETY: the slice is copied before anything else happens; no JavaScript
    // runs while it is borrowed, so the engine cannot detach or resize the buffer.
    unsafe { array.as_bytes() }.map(<[u8]>::to_vec)
}

fn fill_random(ctx: &Ctx<'_>, buffer: &mut [u8]) -> Result<()> {
    getrandom::fill(buffer).map_err(|error| {
        Exception::throw_internal(ctx, &format!("the system random source failed: {error}"))
    })
}

/// `randomBytes(n)` → ArrayBuffer of `n` bytes from the OS CSPRNG.
fn random_bytes<'js>(ctx: Ctx<'js>, length: usize) -> Result<ArrayBuffer<'js>> {
    let mut buffer = vec![0; length];
    fill_random(&ctx, &mut buffer)?;
    ArrayBuffer::new(ctx, buffer)
}

/// `randomUUID()` → an RFC 9562 version 4 UUID, lower-case.
fn random_uuid(ctx: Ctx<'_>) -> Result<String> {
    let mut bytes = [0_u8; 16];
    fill_random(&ctx, &mut bytes)?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

/// `promiseState(p)` → `['pending']`, `['fulfilled', value]` or
/// `['rejected', reason]`, without running any job.
fn promise_state<'js>(ctx: Ctx<'js>, value: Value<'js>) -> Result<Array<'js>> {
    let out = Array::new(ctx.clone())?;
    let Some(promise) = value.as_promise() else {
        return Err(Exception::throw_type(&ctx, "not a promise"));
    };
    match promise.state() {
        PromiseState::Pending => out.set(0, "pending")?,
        PromiseState::Resolved => {
            out.set(0, "fulfilled")?;
            if let Some(result) = promise.result::<Value<'js>>() {
                out.set(1, result?)?;
            }
        }
        PromiseState::Rejected => {
            out.set(0, "rejected")?;
            // `result` rethrows the reason; take it back off the context.
            let _rethrown = promise.result::<Value<'js>>();
            out.set(1, ctx.catch())?;
        }
    }
    Ok(out)
}

/// `proxyTarget(v)` → the target of a Proxy (so inspection runs no trap),
/// `null` for a revoked Proxy, `undefined` for anything else.
fn proxy_target<'js>(ctx: Ctx<'js>, value: Value<'js>) -> Value<'js> {
    match value.as_proxy().map(rquickjs::Proxy::target) {
        None => Value::new_undefined(ctx),
        Some(Ok(target)) => target.into_value(),
        Some(Err(_)) => {
            let _revoked = ctx.catch();
            Value::new_null(ctx)
        }
    }
}

/// `zoneOffset(ianaName, epochMs)` → the zone's UTC offset in seconds at that
/// instant, from jiff's bundled time zone database; RangeError for an unknown zone.
fn zone_offset(ctx: Ctx<'_>, zone: String, epoch_ms: f64) -> Result<i32> {
    let Ok(tz) = jiff::tz::TimeZone::get(&zone) else {
        return Err(Exception::throw_range(
            &ctx,
            &format!("Invalid time zone specified: {zone}"),
        ));
    };
    #[allow(clippy::cast_possible_truncation)]
    let millis = epoch_ms as i64;
    let Ok(instant) = jiff::Timestamp::from_millisecond(millis) else {
        return Err(Exception::throw_range(&ctx, "Invalid time value"));
    };
    Ok(tz.to_offset(instant).seconds())
}
