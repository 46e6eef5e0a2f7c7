// The Forge API surface (FORGE-API.md §1–§4), written against the contract:
// its core (routes, requests, `api`, the handler arguments). The rest is in
// parts (`forge/*.js`), each loaded the first time a script reaches it, so a
// run that only makes requests builds little of the surface.
//
// Modules, compiled to bytecode once per process; each run calls this one's
// default export with `host`, the run's native functions:
//   host.info                     JSON: job, run, params, state, event, cloudId
//   host.kv(json)                 → Promise<json>   storage calls (validated in Rust)
//   host.queue(json)              → Promise<json>   queue calls
//   host.http(json, bytes?)       → Promise<[json, ArrayBuffer]>
//   host.remainingTimeMs()        → number
//   host.continueWith(json, secs) → undefined
//   host.part(name)               → the default export of `forge/<name>.js`
// Returns `module(name)` and `global(name)`, which build a module's
// namespace and a script-style global's value, the handler arguments and
// `settle`, which turns the script's result into JSON.
//
// A part may be built after the script has replaced built-ins (`Object.freeze`,
// `Error`, `Array.prototype[Symbol.iterator]`…): what a part does when it is
// built uses only what the core captured when it was built, at the script's
// first touch of the API, as the whole surface did when it was built at once.
export default function forge(host) {
  const info = JSON.parse(host.info);
  const freeze = Object.freeze;
  const defineProperty = Object.defineProperty;
  const BuiltinError = Error;

  // `value` as JSON text; `subject` names it in the TypeError when it is not JSON.
  function jsonText(value, subject) {
    let json;
    try {
      json = JSON.stringify(value);
    } catch (error) {
      throw new TypeError(`${subject} must be JSON: ${error.message}`);
    }
    if (json === undefined) throw new TypeError(`${subject} must be JSON, not ${typeof value}`);
    return json;
  }

  // ---------------------------------------------------------------- route (§2)

  const ROUTE_REQUIRED = "You must create your route using the 'route' export from '@forge/api'.";
  const PATH_MANIPULATION =
    'Disallowing path manipulation attempt. For more information see: https://go.atlassian.com/product-fetch-api-route';
  const QUERY_START = /[?#]/;
  const PATH_FORBIDDEN = /[/\\?#]|\.\.|\.%2e|%2e\.|%2e%2e/i;
  const routes = new WeakSet();

  function makeRoute(value) {
    const r = freeze({ value });
    routes.add(r);
    return r;
  }

  function isRoute(value) {
    return typeof value === 'object' && value !== null && routes.has(value);
  }

  function isSearchParams(value) {
    return typeof URLSearchParams === 'function' && value instanceof URLSearchParams;
  }

  // C0 controls and DEL: the URL parser drops tab, LF and CR, so `.\t.`
  // would reach the site as `..`; none belongs in a path segment.
  const CONTROL = /[\u0000-\u001f\u007f]/;
  // Dots some servers fold to `.`: NFKC covers the leaders, small and
  // fullwidth full stops; the ideographic ones are mapped by hand.
  const LOOKALIKE_DOT = /[\u3002\uff61]/g;

  function percentDecoded(text) {
    try {
      return decodeURIComponent(text);
    } catch {
      return text;
    }
  }

  function foldDots(text) {
    return text.normalize('NFKC').replace(LOOKALIKE_DOT, '.');
  }

  // True when `text` could move the request to another path: as written, as
  // the URL parser reads it, or percent-decoded by a lenient server.
  function manipulates(text) {
    const direct = [text, foldDots(text)];
    if (direct.some((t) => CONTROL.test(t) || PATH_FORBIDDEN.test(t))) return true;
    const decoded = percentDecoded(text);
    return [decoded, foldDots(decoded)].some((t) => CONTROL.test(t) || t.includes('..'));
  }

  function pathPart(value) {
    if (isRoute(value)) return value.value;
    const text = String(value);
    if (manipulates(text)) throw new Error(PATH_MANIPULATION);
    return text;
  }

  function queryPart(value) {
    if (isRoute(value)) return encodeURIComponent(value.value);
    if (isSearchParams(value)) return value.toString();
    return encodeURIComponent(value);
  }

  function route(strings, ...values) {
    if (!Array.isArray(strings) || !Array.isArray(strings.raw)) {
      throw new TypeError('route is a tagged template: write route`/rest/api/3/issue/${key}`');
    }
    let inQuery = QUERY_START.test(strings[0]);
    let value = strings[0];
    for (let i = 0; i < values.length; i++) {
      value += inQuery ? queryPart(values[i]) : pathPart(values[i]);
      value += strings[i + 1];
      if (QUERY_START.test(strings[i + 1])) inQuery = true;
    }
    return makeRoute(value);
  }

  function assumeTrustedRoute(value) {
    return makeRoute(String(value));
  }

  const ABSOLUTE_URL = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*([^#]*)/i;

  function routeFromAbsolute(url) {
    const match = ABSOLUTE_URL.exec(String(url));
    if (!match) throw new TypeError(`routeFromAbsolute needs an absolute URL, not "${url}"`);
    const rest = match[1];
    return makeRoute(rest.startsWith('/') ? rest : '/' + rest);
  }

  // ------------------------------------------------------------ requests (§2)

  function headerPairs(headers) {
    const pairs = [];
    if (headers === undefined || headers === null) return pairs;
    if (typeof headers.forEach === 'function' && !Array.isArray(headers)) {
      headers.forEach((value, name) => pairs.push([String(name), String(value)]));
    } else if (Array.isArray(headers)) {
      for (const pair of headers) {
        if (!Array.isArray(pair) || pair.length !== 2) {
          throw new TypeError('headers given as an array must hold [name, value] pairs');
        }
        pairs.push([String(pair[0]), String(pair[1])]);
      }
    } else if (typeof headers === 'object') {
      for (const name of Object.keys(headers)) pairs.push([name, String(headers[name])]);
    } else {
      throw new TypeError('headers must be an object, an array of pairs or a Headers');
    }
    return pairs;
  }

  function hasHeader(pairs, wanted) {
    wanted = wanted.toLowerCase();
    return pairs.some(([name]) => name.toLowerCase() === wanted);
  }

  // A request body: string, ArrayBuffer, a typed array or DataView, or URLSearchParams.
  function requestBody(body, pairs, isFetch) {
    if (body === undefined || body === null) return undefined;
    if (typeof body === 'string') {
      if (isFetch && !hasHeader(pairs, 'content-type')) {
        pairs.push(['Content-Type', 'text/plain;charset=UTF-8']);
      }
      return body;
    }
    if (body instanceof ArrayBuffer) return new Uint8Array(body);
    if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    if (isSearchParams(body)) {
      if (isFetch && !hasHeader(pairs, 'content-type')) {
        pairs.push(['Content-Type', 'application/x-www-form-urlencoded;charset=UTF-8']);
      }
      return body.toString();
    }
    throw new TypeError(
      'body must be a string, ArrayBuffer, typed array or URLSearchParams; ' +
        'to send an object, pass JSON.stringify(object)',
    );
  }

  function requestParts(init, isFetch) {
    if (init !== undefined && init !== null && typeof init !== 'object') {
      throw new TypeError('the request options must be an object');
    }
    init = init || {};
    const method = String(init.method === undefined ? 'GET' : init.method).toUpperCase();
    const headers = headerPairs(init.headers);
    const body = requestBody(init.body, headers, isFetch);
    if (body !== undefined && (method === 'GET' || method === 'HEAD')) {
      throw new TypeError(`a ${method} request cannot have a body`);
    }
    return { method, headers, body };
  }

  // Looked up on first use, not at set-up: `Response` is loaded lazily and
  // most runs never make a request.
  function makeNetworkResponse(body, init) {
    return Response[Symbol.for('clockwork.makeResponse')](body, init);
  }

  function makeResponse(meta, buffer) {
    // The web layer's builder for network responses: any status 100-599,
    // `url` and `redirected` set, immutable headers.
    return makeNetworkResponse(buffer.byteLength === 0 ? null : buffer, {
      status: meta.status,
      statusText: meta.statusText,
      headers: meta.headers,
      url: meta.url,
      redirected: meta.redirected,
    });
  }

  // Host calls settle after the script's frame is gone; a failure carries
  // the stack of the call site instead, so it points into the script.
  async function hostCall(native, ...args) {
    const site = new Error();
    try {
      return await native(...args);
    } catch (error) {
      if (error instanceof Error) {
        Object.defineProperty(error, 'stack', { value: site.stack, writable: true, configurable: true });
      }
      throw error;
    }
  }

  async function send(request, body) {
    const [meta, buffer] = await hostCall(host.http, JSON.stringify(request), body);
    return makeResponse(JSON.parse(meta), buffer);
  }

  function productRequester(product, as) {
    return async function (path, init) {
      if (!isRoute(path)) throw new Error(ROUTE_REQUIRED);
      const { method, headers, body } = requestParts(init, false);
      if (!hasHeader(headers, 'content-type')) headers.push(['Content-Type', 'application/json']);
      return send({ kind: 'product', product, as, path: path.value, method, headers }, body);
    };
  }

  async function fetch(resource, init) {
    let url;
    if (isRoute(resource)) url = resource.value;
    else if (typeof resource === 'object' && resource !== null && typeof resource.url === 'string') {
      url = resource.url;
      if (init === undefined) init = { method: resource.method, headers: resource.headers };
    } else url = String(resource);
    const { method, headers, body } = requestParts(init, true);
    const redirect = init && init.redirect !== undefined ? String(init.redirect) : 'follow';
    if (redirect !== 'follow' && redirect !== 'manual' && redirect !== 'error') {
      throw new TypeError(`Invalid redirect mode "${redirect}": use 'follow', 'manual' or 'error'`);
    }
    return send({ kind: 'fetch', url, method, headers, redirect }, body);
  }

  function requester(as) {
    return freeze({
      fetch,
      requestJira: productRequester('jira', as),
      requestConfluence: productRequester('confluence', as),
      requestBitbucket: productRequester('bitbucket', as),
    });
  }

  const asApp = requester('app');
  const asUser = requester('user');

  function authorize() {
    throw new Error(
      'authorize() needs a user context; scheduled and queued runs have none (as on Forge)',
    );
  }

  const api = freeze({
    asApp: () => asApp,
    asUser: () => asUser,
    fetch,
    requestJira: asApp.requestJira,
    requestConfluence: asApp.requestConfluence,
    requestBitbucket: asApp.requestBitbucket,
  });

  // ---------------------------------------------------------------- parts

  // What the parts share with the core (and with each other: `part`).
  const shared = {
    __proto__: null,
    host, freeze, defineProperty, Error: BuiltinError, jsonText, hostCall, isRoute, assumeTrustedRoute, asApp, part,
  };
  const parts = { __proto__: null };

  function part(name) {
    let exports = parts[name];
    if (exports === undefined) {
      exports = host.part(name)(shared);
      parts[name] = exports;
    }
    return exports;
  }

  // ----------------------------------------------------- handler arguments (§1)

  const context = {
    principal: undefined,
    installContext: info.cloudId === null ? undefined : `ari:cloud:jira::site/${info.cloudId}`,
    job: freeze(info.job),
    run: freeze(info.run),
    params: info.params,
    state: info.state === null ? undefined : info.state,
    remainingTimeMs: () => host.remainingTimeMs(),
    continueWith(state, options) {
      const json = jsonText(state, 'continueWith: the state');
      const delaySeconds = options && options.delaySeconds !== undefined ? options.delaySeconds : 0;
      host.continueWith(json, delaySeconds);
    },
  };

  const event =
    info.event !== null
      ? info.event
      : {
          context: { cloudId: info.cloudId === null ? undefined : info.cloudId, moduleKey: info.job.name },
          contextToken: '',
        };

  // The script's result as JSON text (or undefined), or a retry request.
  // The script's result as JSON text (or undefined), or a retry request
  // (only the events part makes an `InvocationError`).
  function settle(value) {
    const events = parts.events;
    if (events !== undefined && value instanceof events.InvocationError) {
      return { retry: JSON.stringify(value.retryOptions) };
    }
    return { json: JSON.stringify(value) };
  }

  // A module's namespace, built on first use with the parts it needs.
  const namespaces = { __proto__: null };

  function module(name) {
    let namespace = namespaces[name];
    if (namespace === undefined) {
      namespace = buildNamespace(name);
      namespaces[name] = namespace;
    }
    return namespace;
  }

  function buildNamespace(name) {
    switch (name) {
      case '@forge/api': {
        const more = part('api');
        return {
          default: api, asApp: api.asApp, asUser: api.asUser, route, assumeTrustedRoute, routeFromAbsolute,
          fetch, authorize, requestJira: api.requestJira, requestConfluence: api.requestConfluence,
          requestBitbucket: api.requestBitbucket, storage: more.storage, properties: more.properties,
          webTrigger: more.webTrigger, startsWith: more.startsWith, WhereConditions: more.WhereConditions,
          FilterConditions: more.FilterConditions, SortOrder: more.Sort, invokeRemote: more.invokeRemote,
          invokeService: more.invokeService, privacy: more.privacy, i18n: more.i18n,
          permissions: more.permissions, getAppContext: more.getAppContext,
          isForgePlatformError: more.isForgePlatformError, ...more.errorClasses,
        };
      }
      case '@forge/kvs': {
        const more = part('api');
        const kvs = part('storage').kvs;
        return { default: kvs, kvs, WhereConditions: more.WhereConditions, FilterConditions: more.FilterConditions, Sort: more.Sort };
      }
      case '@forge/events': {
        const events = part('events');
        return { Queue: events.Queue, InvocationError: events.InvocationError, InvocationErrorCode: events.InvocationErrorCode };
      }
      case '@forge/resolver':
        return { default: part('resolver').Resolver };
      case '@forge/bridge': {
        const bridge = part('bridge');
        return { requestJira: bridge.requestJira, requestConfluence: bridge.requestConfluence };
      }
    }
    return undefined;
  }

  // A script-style global's value (FORGE-API §1), read once per run.
  function global(name) {
    switch (name) {
      case 'api': return api;
      case 'route': return route;
      case 'fetch': return fetch;
      case 'authorize': return authorize;
      case 'storage': return part('api').storage;
      case 'kvs': return part('storage').kvs;
      case 'Queue': return part('events').Queue;
      case 'InvocationError': return part('events').InvocationError;
      case 'event': return event;
      case 'context': return context;
      case 'requestJira': return part('bridge').requestJira;
      case 'requestConfluence': return part('bridge').requestConfluence;
    }
    return undefined;
  }

  return { module, global, event, context, settle };
}
