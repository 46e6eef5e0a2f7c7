// Clockwork web globals: Headers, Response (WHATWG Fetch Standard, bodies
// held in memory; no ReadableStream, so there is no `body` property, no
// blob() and no formData()). `Request` is in request.js, loaded when first
// used: a response to `fetch` or `requestJira` needs none of it.
export default function makeFetch(host, need) {
  const customInspect = Symbol.for('nodejs.util.inspect.custom');
  // Captured for request.js, which may be loaded after the script replaced
  // the globals.
  const keys = Object.keys;
  const defineProperty = Object.defineProperty;
  const apply = Reflect.apply;
  const addToWeakSet = WeakSet.prototype.add;
  const toStringTag = Symbol.toStringTag;
  const addClass = (klass) => apply(addToWeakSet, host.classes, [klass]);

  // ---- Headers ------------------------------------------------------------
  const tokenRegExp = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  const invalidValueRegExp = /[\0\r\n]/;
  const trimRegExp = /^[\t\n\r ]+|[\t\n\r ]+$/g;

  function headerName(name, method) {
    name = String(name);
    if (!tokenRegExp.test(name)) throw new TypeError(`Headers.${method}: "${name}" is an invalid header name.`);
    return name.toLowerCase();
  }
  function headerValue(value, method) {
    value = String(value).replace(trimRegExp, '');
    if (invalidValueRegExp.test(value) || /[^\u0000-\u00ff]/.test(value)) {
      throw new TypeError(`Headers.${method}: "${value}" is an invalid header value.`);
    }
    return value;
  }

  class Headers {
    #map = new Map(); // lower-case name → [values]; set-cookie values kept apart
    #guard = 'none';

    constructor(init = undefined) {
      if (init === undefined || init === null) return;
      if (typeof init !== 'object' && typeof init !== 'function') {
        throw new TypeError("Failed to construct 'Headers': The provided value is not of type '(record<ByteString, ByteString> or sequence<sequence<ByteString>>)'.");
      }
      if (init instanceof Headers) {
        for (const [name, values] of init.#map) this.#map.set(name, [...values]);
        return;
      }
      if (typeof init[Symbol.iterator] === 'function') {
        for (const pair of init) {
          const entry = typeof pair === 'string' ? [pair] : [...pair];
          if (entry.length !== 2) {
            throw new TypeError(`Headers constructor: expected name/value pair to be length 2, found ${entry.length}.`);
          }
          this.append(entry[0], entry[1]);
        }
        return;
      }
      for (const key of Reflect.ownKeys(init)) {
        if (typeof key !== 'string' || !Object.prototype.propertyIsEnumerable.call(init, key)) continue;
        this.append(key, init[key]);
      }
    }

    static _guard(headers, guard) {
      headers.#guard = guard;
    }
    #checkMutable() {
      if (this.#guard === 'immutable') throw new TypeError('immutable');
    }

    append(name, value) {
      if (arguments.length < 2) throw new TypeError(`Headers.append: 2 arguments required, but only ${arguments.length} present.`);
      name = headerName(name, 'append');
      value = headerValue(value, 'append');
      this.#checkMutable();
      const values = this.#map.get(name);
      if (values === undefined) this.#map.set(name, [value]);
      else values.push(value);
    }
    delete(name) {
      if (arguments.length < 1) throw new TypeError('Headers.delete: 1 argument required, but only 0 present.');
      name = headerName(name, 'delete');
      this.#checkMutable();
      this.#map.delete(name);
    }
    get(name) {
      if (arguments.length < 1) throw new TypeError('Headers.get: 1 argument required, but only 0 present.');
      const values = this.#map.get(headerName(name, 'get'));
      return values === undefined ? null : values.join(', ');
    }
    getSetCookie() {
      return [...(this.#map.get('set-cookie') ?? [])];
    }
    has(name) {
      if (arguments.length < 1) throw new TypeError('Headers.has: 1 argument required, but only 0 present.');
      return this.#map.has(headerName(name, 'has'));
    }
    set(name, value) {
      if (arguments.length < 2) throw new TypeError(`Headers.set: 2 arguments required, but only ${arguments.length} present.`);
      name = headerName(name, 'set');
      value = headerValue(value, 'set');
      this.#checkMutable();
      this.#map.set(name, [value]);
    }
    // Sorted by name; values of one name combined with ", ", except
    // set-cookie, whose values are listed one by one.
    #sorted() {
      const names = [...this.#map.keys()].sort();
      const out = [];
      for (const name of names) {
        const values = this.#map.get(name);
        if (name === 'set-cookie') for (const value of values) out.push([name, value]);
        else out.push([name, values.join(', ')]);
      }
      return out;
    }
    forEach(callback, thisArg = undefined) {
      if (typeof callback !== 'function') {
        throw new TypeError("Headers.forEach: Argument 1 could not be converted to: Function.");
      }
      for (const [name, value] of this.#sorted()) callback.call(thisArg, value, name, this);
    }
    *entries() {
      yield* this.#sorted();
    }
    *keys() {
      for (const [name] of this.#sorted()) yield name;
    }
    *values() {
      for (const [, value] of this.#sorted()) yield value;
    }
    [Symbol.iterator]() {
      return this.entries();
    }
    get [Symbol.toStringTag]() {
      return 'Headers';
    }
    [customInspect](depth, options, inspect) {
      const shown = {};
      for (const [name, value] of this.#sorted()) {
        shown[name] = name in shown ? `${shown[name]}, ${value}` : value;
      }
      return `Headers ${inspect(shown, options)}`;
    }
  }
  const setGuard = Headers._guard;
  delete Headers._guard;

  // ---- bodies -------------------------------------------------------------
  const encoder = () => need('encoding');
  function utf8(text) {
    return new Uint8Array(host.utf8Encode(String(text).toWellFormed()));
  }

  // → [bytes or null, content type or null]
  function extractBody(body) {
    if (body === undefined || body === null) return [null, null];
    if (typeof body === 'string') return [utf8(body), 'text/plain;charset=UTF-8'];
    if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return [encoder().bytesOf(body, 'body').slice(), null];
    const { URLSearchParams } = need('url');
    if (body instanceof URLSearchParams) return [utf8(body.toString()), 'application/x-www-form-urlencoded;charset=UTF-8'];
    return [utf8(String(body)), 'text/plain;charset=UTF-8'];
  }

  // The body of a Request or Response: bytes read at most once.
  class Body {
    bytes = null;
    used = false;
    constructor(bytes) {
      this.bytes = bytes;
    }
    consume() {
      if (this.used) return Promise.reject(new TypeError('Body is unusable: Body has already been read'));
      this.used = true;
      return Promise.resolve(this.bytes ?? new Uint8Array(0));
    }
  }

  function decodeText(bytes) {
    return host.utf8Decode(bytes, false, false);
  }

  const bodyMethods = {
    arrayBuffer() {
      return bodyOf(this).consume().then((bytes) => bytes.slice().buffer);
    },
    bytes() {
      return bodyOf(this).consume().then((bytes) => bytes.slice());
    },
    text() {
      return bodyOf(this).consume().then(decodeText);
    },
    json() {
      return bodyOf(this).consume().then((bytes) => JSON.parse(decodeText(bytes)));
    },
    blob() {
      return Promise.reject(new TypeError('Body.blob() is not supported: there is no Blob in this runtime'));
    },
    formData() {
      return Promise.reject(new TypeError('Body.formData() is not supported in this runtime'));
    },
  };
  const bodies = new WeakMap();
  function bodyOf(owner) {
    const body = bodies.get(owner);
    if (body === undefined) throw new TypeError('Illegal invocation');
    return body;
  }
  function addBodyMethods(klass) {
    const names = keys(bodyMethods);
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      defineProperty(klass.prototype, name, { __proto__: null, value: bodyMethods[name], writable: true, configurable: true, enumerable: false });
    }
    defineProperty(klass.prototype, 'bodyUsed', {
      __proto__: null,
      get() {
        return bodyOf(this).used;
      },
      configurable: true,
      enumerable: false,
    });
  }

  // ---- Response -------------------------------------------------------------
  const nullBodyStatuses = new Set([101, 103, 204, 205, 304]);
  const redirectStatuses = new Set([301, 302, 303, 307, 308]);
  const reasonPhraseRegExp = /^[\t\x20-\x7e\x80-\xff]*$/;

  class Response {
    #status = 200;
    #statusText = '';
    #headers;
    #url = '';
    #redirected = false;
    #type = 'default';

    constructor(body = null, init = undefined) {
      init = init ?? {};
      if (typeof init !== 'object') {
        throw new TypeError("Failed to construct 'Response': The provided value is not of type 'ResponseInit'.");
      }
      if (init.status !== undefined) {
        const status = Number(init.status);
        if (!Number.isInteger(status) || status < 200 || status > 599) {
          throw new RangeError(`init["status"] must be in the range of 200 to 599, inclusive.`);
        }
        this.#status = status;
      }
      if (init.statusText !== undefined) {
        const text = String(init.statusText);
        if (!reasonPhraseRegExp.test(text)) throw new TypeError('Invalid statusText');
        this.#statusText = text;
      }
      this.#headers = new Headers(init.headers);
      let bytes = null;
      if (body !== null && body !== undefined) {
        if (nullBodyStatuses.has(this.#status)) {
          throw new TypeError('Response constructor: Invalid response status code ' + this.#status);
        }
        const [extracted, type] = extractBody(body);
        bytes = extracted;
        if (type !== null && !this.#headers.has('content-type')) this.#headers.append('content-type', type);
      }
      bodies.set(this, new Body(bytes));
    }

    static _internal(response, fields) {
      response.#status = fields.status;
      response.#statusText = fields.statusText;
      response.#url = fields.url;
      response.#redirected = fields.redirected;
      response.#type = fields.type;
      setGuard(response.#headers, 'immutable');
      immutableResponses.add(response);
    }

    static error() {
      const response = new Response(null);
      internal(response, { status: 0, statusText: '', url: '', redirected: false, type: 'error' });
      return response;
    }
    static json(data, init = undefined) {
      const text = JSON.stringify(data);
      if (text === undefined) throw new TypeError('Value is not JSON serializable');
      const headers = new Headers(init?.headers);
      if (!headers.has('content-type')) headers.set('content-type', 'application/json');
      return new Response(text, { status: init?.status, statusText: init?.statusText, headers });
    }
    static redirect(url, status = 302) {
      const { URL } = need('url');
      let parsed;
      try {
        parsed = new URL(String(url));
      } catch {
        throw new TypeError(`Failed to parse URL from ${String(url)}`);
      }
      status = Number(status);
      if (!redirectStatuses.has(status)) throw new RangeError(`Invalid status code ${status}`);
      const response = new Response(null, { status, headers: { location: parsed.href } });
      setGuard(response.#headers, 'immutable');
      immutableResponses.add(response);
      return response;
    }

    get type() { return this.#type; }
    get url() { return this.#url; }
    get redirected() { return this.#redirected; }
    get status() { return this.#status; }
    get ok() { return this.#status >= 200 && this.#status <= 299; }
    get statusText() { return this.#statusText; }
    get headers() { return this.#headers; }
    clone() {
      const body = bodyOf(this);
      if (body.used) throw new TypeError('Response.clone: Body has already been consumed.');
      const copy = new Response(null, { headers: this.#headers });
      copy.#status = this.#status;
      copy.#statusText = this.#statusText;
      copy.#url = this.#url;
      copy.#redirected = this.#redirected;
      copy.#type = this.#type;
      if (immutableResponses.has(this)) {
        setGuard(copy.#headers, 'immutable');
        immutableResponses.add(copy);
      }
      bodies.set(copy, new Body(body.bytes === null ? null : body.bytes.slice()));
      return copy;
    }
    get [Symbol.toStringTag]() { return 'Response'; }
    [customInspect](depth, options, inspect) {
      const shown = {
        status: this.status, statusText: this.statusText, headers: this.headers, bodyUsed: this.bodyUsed, ok: this.ok, redirected: this.redirected, type: this.type, url: this.url,
      };
      return `Response ${inspect(shown, options)}`;
    }
  }
  addBodyMethods(Response);
  const internal = Response._internal;
  delete Response._internal;
  const immutableResponses = new WeakSet();

  // The hook `fetch` uses (documented in web/mod.rs): a network response.
  function makeResponse(body, init = {}) {
    const status = Number(init.status ?? 200);
    if (!Number.isInteger(status) || status < 100 || status > 599) {
      throw new RangeError(`status ${init.status} is not an HTTP status code`);
    }
    const response = new Response(null, { headers: init.headers });
    let bytes = null;
    if (body !== null && body !== undefined && !nullBodyStatuses.has(status)) bytes = extractBody(body)[0];
    bodies.set(response, new Body(bytes));
    internal(response, {
      status,
      statusText: String(init.statusText ?? ''),
      url: String(init.url ?? ''),
      redirected: Boolean(init.redirected),
      type: String(init.type ?? 'basic'),
    });
    return response;
  }
  Object.defineProperty(Response, Symbol.for('clockwork.makeResponse'), {
    value: makeResponse,
    writable: false,
    enumerable: false,
    configurable: false,
  });

  addClass(Headers);
  addClass(Response);
  // What request.js builds `Request` from.
  const forRequest = { customInspect, toStringTag, tokenRegExp, Headers, Body, bodies, bodyOf, extractBody, addBodyMethods, addClass };
  return { Headers, Response, makeResponse, forRequest };
}
