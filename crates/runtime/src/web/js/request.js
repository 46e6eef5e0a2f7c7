// Clockwork web globals: Request (WHATWG Fetch Standard; see fetch.js).
// Loaded when a script first uses `Request`, maybe after it replaced
// built-ins: what runs while loading uses only what fetch.js captured.
export default function makeRequest(host, need) {
  const { customInspect, toStringTag, tokenRegExp, Headers, Body, bodies, bodyOf, extractBody, addBodyMethods, addClass } =
    need('fetch').forRequest;

  const forbiddenMethods = { __proto__: null, CONNECT: true, TRACE: true, TRACK: true };
  const normalizedMethods = { __proto__: null, DELETE: true, GET: true, HEAD: true, OPTIONS: true, POST: true, PUT: true };
  const redirectModes = { __proto__: null, follow: true, error: true, manual: true };

  class Request {
    #url;
    #method = 'GET';
    #headers;
    #signal;
    #redirect = 'follow';

    constructor(input, init = undefined) {
      if (arguments.length < 1) throw new TypeError("Failed to construct 'Request': 1 argument required, but only 0 present.");
      init = init ?? {};
      let inherited = null;
      if (input instanceof Request) {
        inherited = input;
        this.#url = input.#url;
        this.#method = input.#method;
        this.#redirect = input.#redirect;
      } else {
        const { URL } = need('url');
        let parsed;
        try {
          parsed = new URL(String(input));
        } catch {
          throw new TypeError(`Failed to parse URL from ${String(input)}`);
        }
        if (parsed.username !== '' || parsed.password !== '') {
          throw new TypeError(`Request cannot be constructed from a URL that includes credentials: ${String(input)}`);
        }
        this.#url = parsed.href;
      }
      if (init.method !== undefined) {
        const method = String(init.method);
        if (!tokenRegExp.test(method)) throw new TypeError(`'${method}' is not a valid HTTP method.`);
        const upper = method.toUpperCase();
        if (forbiddenMethods[upper] === true) throw new TypeError(`'${method}' HTTP method is unsupported.`);
        this.#method = normalizedMethods[upper] === true ? upper : method;
      }
      if (init.redirect !== undefined) {
        if (typeof init.redirect !== 'string' || redirectModes[init.redirect] !== true) {
          throw new TypeError(`Failed to construct 'Request': The provided value '${init.redirect}' is not a valid enum value of type RequestRedirect.`);
        }
        this.#redirect = init.redirect;
      }
      const { AbortSignal, AbortController } = need('events');
      const signal = init.signal !== undefined ? init.signal : inherited?.signal;
      if (signal !== undefined && signal !== null && !(signal instanceof AbortSignal)) {
        throw new TypeError("Failed to construct 'Request': member signal is not of type AbortSignal.");
      }
      if (signal instanceof AbortSignal) this.#signal = AbortSignal.any([signal]);
      else this.#signal = new AbortController().signal;

      this.#headers = new Headers(init.headers !== undefined ? init.headers : inherited?.headers);
      let body = null;
      if (init.body !== undefined && init.body !== null) {
        if (this.#method === 'GET' || this.#method === 'HEAD') {
          throw new TypeError('Request with GET/HEAD method cannot have body.');
        }
        const [bytes, type] = extractBody(init.body);
        body = bytes;
        if (type !== null && !this.#headers.has('content-type')) this.#headers.append('content-type', type);
      } else if (inherited !== null) {
        const source = bodyOf(inherited);
        if (source.used) throw new TypeError('Cannot construct a Request with a Request object that has already been used.');
        body = source.bytes;
        if (body !== null) source.used = true;
      }
      bodies.set(this, new Body(body));
    }

    get url() { return this.#url; }
    get method() { return this.#method; }
    get headers() { return this.#headers; }
    get signal() { return this.#signal; }
    get redirect() { return this.#redirect; }
    get credentials() { return 'same-origin'; }
    get mode() { return 'cors'; }
    get cache() { return 'default'; }
    get destination() { return ''; }
    get integrity() { return ''; }
    get keepalive() { return false; }
    get referrer() { return 'about:client'; }
    get referrerPolicy() { return ''; }
    get duplex() { return 'half'; }
    clone() {
      const body = bodyOf(this);
      if (body.used) throw new TypeError('Request.clone: Body has already been consumed.');
      const copy = new Request(this, { signal: this.#signal });
      body.used = false; // constructing from `this` took its body; clone() must not
      bodies.set(copy, new Body(body.bytes === null ? null : body.bytes.slice()));
      return copy;
    }
    get [toStringTag]() { return 'Request'; }
    [customInspect](depth, options, inspect) {
      const shown = { method: this.method, url: this.url, headers: this.headers, destination: '', referrer: this.referrer, referrerPolicy: '', mode: this.mode, credentials: this.credentials, cache: this.cache, redirect: this.redirect, integrity: '', keepalive: false, isReloadNavigation: false, isHistoryNavigation: false, signal: this.signal };
      return `Request ${inspect(shown, options)}`;
    }
  }
  addBodyMethods(Request);

  addClass(Request);
  return { Request };
}
