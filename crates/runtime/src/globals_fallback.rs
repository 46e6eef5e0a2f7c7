//! Minimal stand-ins for the web-platform globals, used until the full
//! implementation replaces them behind [`crate::globals`]: `Headers` and
//! `Response` (what `fetch` returns) and plain console formatting.

use rquickjs::{ArrayBuffer, Ctx, FromJs, Function, Value};

use crate::bytes::copy_bytes;

pub(crate) const FALLBACK_JS: &str = r#"export default function install(encode, decode) {
  class Headers {
    #map = new Map();
    constructor(init) {
      if (init === undefined || init === null) return;
      if (typeof init.forEach === 'function' && !Array.isArray(init)) init.forEach((v, k) => this.append(k, v));
      else if (Array.isArray(init)) for (const [k, v] of init) this.append(k, v);
      else for (const k of Object.keys(init)) this.append(k, init[k]);
    }
    append(name, value) {
      const key = String(name).toLowerCase();
      const old = this.#map.get(key);
      this.#map.set(key, old === undefined ? String(value) : old + ', ' + String(value));
    }
    set(name, value) { this.#map.set(String(name).toLowerCase(), String(value)); }
    get(name) { const v = this.#map.get(String(name).toLowerCase()); return v === undefined ? null : v; }
    has(name) { return this.#map.has(String(name).toLowerCase()); }
    delete(name) { this.#map.delete(String(name).toLowerCase()); }
    *entries() { for (const k of [...this.#map.keys()].sort()) yield [k, this.#map.get(k)]; }
    *keys() { for (const [k] of this.entries()) yield k; }
    *values() { for (const [, v] of this.entries()) yield v; }
    [Symbol.iterator]() { return this.entries(); }
    forEach(callback, thisArg) { for (const [k, v] of this.entries()) callback.call(thisArg, v, k, this); }
  }
  class Response {
    #bytes;
    #used = false;
    constructor(body, init) {
      init = init || {};
      if (body === undefined || body === null) this.#bytes = null;
      else if (typeof body === 'string') this.#bytes = encode(body);
      else if (body instanceof ArrayBuffer) this.#bytes = body.slice(0);
      else if (ArrayBuffer.isView(body)) this.#bytes = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength);
      else this.#bytes = encode(String(body));
      this.status = init.status === undefined ? 200 : init.status;
      this.statusText = init.statusText === undefined ? '' : String(init.statusText);
      this.headers = new Headers(init.headers);
      this.ok = this.status >= 200 && this.status <= 299;
      this.redirected = false;
      this.type = 'default';
      this.url = '';
    }
    get bodyUsed() { return this.#used; }
    #take() {
      if (this.#used) throw new TypeError('Body has already been used');
      this.#used = true;
      return this.#bytes === null ? new ArrayBuffer(0) : this.#bytes;
    }
    async arrayBuffer() { return this.#take(); }
    async text() { return decode(this.#take()); }
    async json() { return JSON.parse(decode(this.#take())); }
  }
  globalThis.Headers = Headers;
  globalThis.Response = Response;
}"#;

pub(crate) fn install<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<()> {
    let encode = Function::new(ctx.clone(), |ctx: Ctx<'js>, text: String| {
        // A copy in the script's heap, so it counts against the memory limit.
        ArrayBuffer::new_copy(ctx, text.as_bytes())
    })?;
    let decode = Function::new(ctx.clone(), |bytes: Value<'js>| {
        copy_bytes(&bytes)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    })?;
    let define = crate::precompiled::default_export(ctx, crate::precompiled::Script::WebFallback)?;
    define.call::<_, ()>((encode, decode))
}

/// Strings as they are, `Error`s with their stack, other values as JSON,
/// separated by spaces.
pub(crate) fn format_console_args<'js>(ctx: &Ctx<'js>, args: &[Value<'js>]) -> String {
    args.iter()
        .map(|value| format_value(ctx, value))
        .collect::<Vec<_>>()
        .join(" ")
}

fn format_value<'js>(ctx: &Ctx<'js>, value: &Value<'js>) -> String {
    if let Some(text) = value.as_string() {
        return text.to_string().unwrap_or_default();
    }
    if value.is_error()
        && let Some(object) = value.as_object()
    {
        let name: String = object.get("name").unwrap_or_default();
        let message: String = object.get("message").unwrap_or_default();
        let stack: String = object.get("stack").unwrap_or_default();
        return format!("{name}: {message}\n{stack}").trim_end().to_owned();
    }
    if value.is_object()
        && !value.is_function()
        && let Ok(Some(json)) = ctx.json_stringify(value.clone())
    {
        return json.to_string().unwrap_or_default();
    }
    rquickjs::Coerced::<String>::from_js(ctx, value.clone())
        .map(|text| text.0)
        .unwrap_or_else(|_| String::from("[value]"))
}
