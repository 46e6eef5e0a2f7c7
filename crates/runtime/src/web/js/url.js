// Clockwork web globals: URL and URLSearchParams (WHATWG URL Standard).
// Parsing, serialisation and the component setters are the Rust `url` crate's
// (host.urlParse / host.urlSet); form encoding is its form_urlencoded.
export default function makeUrl(host, need) {
  const customInspect = Symbol.for('nodejs.util.inspect.custom');
  // Indexes into the component arrays host.urlParse / host.urlSet return.
  const HREF = 0, ORIGIN = 1, PROTOCOL = 2, USERNAME = 3, PASSWORD = 4, HOST = 5,
    HOSTNAME = 6, PORT = 7, PATHNAME = 8, SEARCH = 9, HASH = 10;

  const usv = (value) => String(value).toWellFormed();

  function requireArgs(count, required, name) {
    if (count < required) {
      throw new TypeError(`Failed to execute '${name}': ${required} argument${required > 1 ? 's' : ''} required, but only ${count} present.`);
    }
  }

  class URLSearchParams {
    #list = [];
    #url = null; // the URL whose query this object mirrors

    constructor(init = undefined) {
      if (init === undefined || init === null) return;
      if (typeof init === 'object' || typeof init === 'function') {
        if (typeof init[Symbol.iterator] === 'function') {
          for (const pair of init) {
            const entry = typeof pair === 'string' ? undefined : [...pair];
            if (entry === undefined || entry.length !== 2) {
              throw new TypeError("Failed to construct 'URLSearchParams': Each query pair must be an iterable [name, value] tuple");
            }
            this.#list.push([usv(entry[0]), usv(entry[1])]);
          }
        } else {
          for (const key of Reflect.ownKeys(init)) {
            if (typeof key !== 'string' || !Object.prototype.propertyIsEnumerable.call(init, key)) continue;
            this.#list.push([usv(key), usv(init[key])]);
          }
        }
        return;
      }
      let text = usv(init);
      if (text.startsWith('?')) text = text.slice(1);
      this.#parse(text);
    }

    #parse(text) {
      const flat = host.formParse(text);
      this.#list = [];
      for (let i = 0; i < flat.length; i += 2) this.#list.push([flat[i], flat[i + 1]]);
    }

    #update() {
      if (this.#url !== null) urlSetQueryFromParams(this.#url, this.toString());
    }

    static _attach(params, url, query) {
      params.#url = url;
      params.#parse(query);
    }
    static _reparse(params, query) {
      params.#parse(query);
    }

    get size() {
      return this.#list.length;
    }
    append(name, value) {
      requireArgs(arguments.length, 2, 'URLSearchParams.append');
      this.#list.push([usv(name), usv(value)]);
      this.#update();
    }
    delete(name, value = undefined) {
      requireArgs(arguments.length, 1, 'URLSearchParams.delete');
      name = usv(name);
      if (value === undefined) this.#list = this.#list.filter(([n]) => n !== name);
      else {
        value = usv(value);
        this.#list = this.#list.filter(([n, v]) => n !== name || v !== value);
      }
      this.#update();
    }
    get(name) {
      requireArgs(arguments.length, 1, 'URLSearchParams.get');
      name = usv(name);
      const entry = this.#list.find(([n]) => n === name);
      return entry === undefined ? null : entry[1];
    }
    getAll(name) {
      requireArgs(arguments.length, 1, 'URLSearchParams.getAll');
      name = usv(name);
      return this.#list.filter(([n]) => n === name).map(([, v]) => v);
    }
    has(name, value = undefined) {
      requireArgs(arguments.length, 1, 'URLSearchParams.has');
      name = usv(name);
      if (value === undefined) return this.#list.some(([n]) => n === name);
      value = usv(value);
      return this.#list.some(([n, v]) => n === name && v === value);
    }
    set(name, value) {
      requireArgs(arguments.length, 2, 'URLSearchParams.set');
      name = usv(name);
      value = usv(value);
      const index = this.#list.findIndex(([n]) => n === name);
      if (index === -1) this.#list.push([name, value]);
      else {
        this.#list[index][1] = value;
        this.#list = this.#list.filter(([n], i) => i <= index || n !== name);
      }
      this.#update();
    }
    sort() {
      // Stable sort by UTF-16 code units of the names, as the standard says.
      this.#list = this.#list
        .map((entry, index) => [entry, index])
        .sort(([a, i], [b, j]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : i - j))
        .map(([entry]) => entry);
      this.#update();
    }
    forEach(callback, thisArg = undefined) {
      if (typeof callback !== 'function') {
        throw new TypeError("Failed to execute 'forEach' on 'URLSearchParams': parameter 1 is not of type 'Function'.");
      }
      for (let i = 0; i < this.#list.length; i++) {
        const [name, value] = this.#list[i];
        callback.call(thisArg, value, name, this);
      }
    }
    *entries() {
      for (let i = 0; i < this.#list.length; i++) yield [this.#list[i][0], this.#list[i][1]];
    }
    *keys() {
      for (let i = 0; i < this.#list.length; i++) yield this.#list[i][0];
    }
    *values() {
      for (let i = 0; i < this.#list.length; i++) yield this.#list[i][1];
    }
    [Symbol.iterator]() {
      return this.entries();
    }
    toString() {
      return host.formSerialize(this.#list.flat());
    }
    get [Symbol.toStringTag]() {
      return 'URLSearchParams';
    }
    [customInspect](depth, options, inspect) {
      if (this.#list.length === 0) return 'URLSearchParams {}';
      const parts = this.#list.map(([n, v]) => `${inspect(n)} => ${inspect(v)}`);
      const oneLine = `URLSearchParams { ${parts.join(', ')} }`;
      return oneLine.length <= 80 ? oneLine : `URLSearchParams {\n  ${parts.join(',\n  ')} }`;
    }
  }
  const attachParams = URLSearchParams._attach;
  const reparseParams = URLSearchParams._reparse;
  delete URLSearchParams._attach;
  delete URLSearchParams._reparse;

  let urlSetQueryFromParams;

  class URL {
    #parts;
    #params = null;

    constructor(url, base = undefined) {
      requireArgs(arguments.length, 1, 'URL');
      const input = usv(url);
      const parts = base === undefined ? host.urlParse(input) : host.urlParse(input, usv(base));
      if (parts == null) {
        const error = new TypeError(`Invalid URL: ${input}`);
        error.code = 'ERR_INVALID_URL';
        error.input = input;
        throw error;
      }
      this.#parts = parts;
    }

    static canParse(url, base = undefined) {
      requireArgs(arguments.length, 1, 'URL.canParse');
      return (base === undefined ? host.urlParse(usv(url)) : host.urlParse(usv(url), usv(base))) != null;
    }
    static parse(url, base = undefined) {
      requireArgs(arguments.length, 1, 'URL.parse');
      try {
        return base === undefined ? new URL(url) : new URL(url, base);
      } catch {
        return null;
      }
    }

    #set(part, value) {
      this.#parts = host.urlSet(this.#parts[HREF], part, usv(value));
      if (this.#params !== null && (part === 'href' || part === 'search')) {
        reparseParams(this.#params, this.#parts[SEARCH].slice(1));
      }
    }
    static _setQuery(url, query) {
      url.#parts = host.urlSet(url.#parts[HREF], 'search', query);
    }

    get href() { return this.#parts[HREF]; }
    set href(value) { this.#set('href', value); }
    get origin() { return this.#parts[ORIGIN]; }
    get protocol() { return this.#parts[PROTOCOL]; }
    set protocol(value) { this.#set('protocol', value); }
    get username() { return this.#parts[USERNAME]; }
    set username(value) { this.#set('username', value); }
    get password() { return this.#parts[PASSWORD]; }
    set password(value) { this.#set('password', value); }
    get host() { return this.#parts[HOST]; }
    set host(value) { this.#set('host', value); }
    get hostname() { return this.#parts[HOSTNAME]; }
    set hostname(value) { this.#set('hostname', value); }
    get port() { return this.#parts[PORT]; }
    set port(value) { this.#set('port', value); }
    get pathname() { return this.#parts[PATHNAME]; }
    set pathname(value) { this.#set('pathname', value); }
    get search() { return this.#parts[SEARCH]; }
    set search(value) { this.#set('search', value); }
    get hash() { return this.#parts[HASH]; }
    set hash(value) { this.#set('hash', value); }
    get searchParams() {
      if (this.#params === null) {
        this.#params = new URLSearchParams();
        attachParams(this.#params, this, this.#parts[SEARCH].slice(1));
      }
      return this.#params;
    }
    toString() { return this.#parts[HREF]; }
    toJSON() { return this.#parts[HREF]; }
    get [Symbol.toStringTag]() { return 'URL'; }

    [customInspect](depth, options, inspect) {
      if (depth < 0) return '[URL]';
      const shown = {
        href: this.href, origin: this.origin, protocol: this.protocol, username: this.username,
        password: this.password, host: this.host, hostname: this.hostname, port: this.port,
        pathname: this.pathname, search: this.search, searchParams: this.searchParams, hash: this.hash,
      };
      return `URL ${inspect(shown, options)}`;
    }
  }
  const setUrlQuery = URL._setQuery;
  delete URL._setQuery;
  urlSetQueryFromParams = (url, query) => setUrlQuery(url, query === '' ? '' : `?${query}`);

  for (const klass of [URL, URLSearchParams]) host.classes.add(klass);
  return { URL, URLSearchParams };
}
