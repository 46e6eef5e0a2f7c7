// Clockwork web globals: bootstrap. Runs once per context, so it is written
// for speed (measured): few functions, one defineProperties call.
//
// Every web global starts as a lazy accessor on globalThis. The first read
// loads the module that implements it (via `native(name)`, which returns the
// module's factory), then replaces the accessor with a plain data property
// (writable, configurable, not enumerable, as Web IDL globals are). Module
// factories get `(host, need)`: the Rust host functions and `need(name)` to
// reach another module's exports without going through (user-replaceable)
// globals. Returns `need`, which Rust keeps for console formatting and the
// fetch hook.
export default function bootstrap(native) {
  const loaded = { __proto__: null };
  let host;
  function need(name) {
    let exports = loaded[name];
    if (exports === undefined) {
      if (host === undefined) {
        host = native('host');
        // The web classes: their bytecode has no source text, so the console
        // learns they are classes (`[class URL]`) from this set.
        host.classes = new WeakSet();
      }
      exports = native(name)(host, need);
      loaded[name] = exports;
    }
    return exports;
  }

  const global = globalThis;
  function settle(name, value) {
    Object.defineProperty(global, name, { value, writable: true, enumerable: false, configurable: true });
    return value;
  }
  function load(name, module) {
    return settle(name, need(module)[name]);
  }

  // One accessor pair per global, made by one closure factory (fewer
  // functions in the bytecode makes loading it cheaper).
  function lazy(name, module) {
    return {
      get() {
        return load(name, module);
      },
      set(value) {
        settle(name, value);
      },
      configurable: true,
    };
  }
  const globals = {
    URL: lazy('URL', 'url'),
    URLSearchParams: lazy('URLSearchParams', 'url'),
    TextEncoder: lazy('TextEncoder', 'encoding'),
    TextDecoder: lazy('TextDecoder', 'encoding'),
    crypto: lazy('crypto', 'crypto'),
    Crypto: lazy('Crypto', 'crypto'),
    structuredClone: lazy('structuredClone', 'clone'),
    Event: lazy('Event', 'events'),
    EventTarget: lazy('EventTarget', 'events'),
    AbortController: lazy('AbortController', 'events'),
    AbortSignal: lazy('AbortSignal', 'events'),
    Headers: lazy('Headers', 'fetch'),
    Request: lazy('Request', 'request'),
    Response: lazy('Response', 'fetch'),
  };
  // QuickJS-ng has no Intl: provide the subset, and route the locale-sensitive
  // built-ins through it (Node prints 1,234.5 where QuickJS prints 1234.5).
  // Assignment keeps the built-ins' attributes (writable, not enumerable).
  if (global.Intl === undefined) {
    globals.Intl = lazy('Intl', 'intl');
    Number.prototype.toLocaleString = function toLocaleString() {
      return need('intl').numberToLocaleString(this, arguments[0], arguments[1]);
    };
    BigInt.prototype.toLocaleString = function toLocaleString() {
      return need('intl').bigintToLocaleString(this, arguments[0], arguments[1]);
    };
    Date.prototype.toLocaleString = function toLocaleString() {
      return need('intl').dateToLocaleString(this, arguments[0], arguments[1]);
    };
    Date.prototype.toLocaleDateString = function toLocaleDateString() {
      return need('intl').dateToLocaleDateString(this, arguments[0], arguments[1]);
    };
    Date.prototype.toLocaleTimeString = function toLocaleTimeString() {
      return need('intl').dateToLocaleTimeString(this, arguments[0], arguments[1]);
    };
    String.prototype.localeCompare = function localeCompare(that) {
      return need('intl').localeCompare(this, that, arguments[1], arguments[2]);
    };
  }
  Object.defineProperties(global, globals);

  // Rust keeps `need` to reach the inspector and the fetch hook.
  return need;
}
