// The Forge API surface (FORGE-API.md §1–§4), written against the contract.
// A module, compiled to bytecode once per process; each run calls its default
// export with `host`, the run's native functions:
//   host.info                     JSON: job, run, params, state, event, cloudId
//   host.kv(json)                 → Promise<json>   storage calls (validated in Rust)
//   host.queue(json)              → Promise<json>   queue calls
//   host.http(json, bytes?)       → Promise<[json, ArrayBuffer]>
//   host.remainingTimeMs()        → number
//   host.continueWith(json, secs) → undefined
// Returns the module namespaces, the script-style globals, the handler
// arguments and `settle`, which turns the script's result into JSON.
export default function forge(host) {
  const info = JSON.parse(host.info);
  const freeze = Object.freeze;

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

  // Script Master's console bridge (the `@forge/bridge` shape): a plain
  // product-relative string path, checked as `assumeTrustedRoute` paths
  // must be, sent as `asApp()` sends it.
  const SCHEME_OR_HOST = /^[a-z][a-z0-9+.-]*:|^[\/\\]{2}/i;

  function bridgeRequester(name, product) {
    const send = asApp[name];
    return async function (path, init) {
      if (isRoute(path)) return send(path, init);
      if (typeof path !== 'string') {
        throw new TypeError(`${name} takes a path string such as '/rest/api/3/myself', not ${typeof path}`);
      }
      if (SCHEME_OR_HOST.test(path) || !path.startsWith('/')) {
        throw new TypeError(
          `${name} takes a path relative to the ${product} site, starting with '/' ` +
            `(such as '/rest/api/3/myself'), not '${path}'; use fetch() for other hosts`,
        );
      }
      return send(assumeTrustedRoute(path), init);
    };
  }

  const bridge = freeze({
    requestJira: bridgeRequester('requestJira', 'Jira'),
    requestConfluence: bridgeRequester('requestConfluence', 'Confluence'),
  });

  // ------------------------------------------- names Clockwork cannot serve (§2)
  // They import fine; calling one fails and says what to use instead.

  function unavailable(name, instead) {
    return function () {
      throw new Error(`${name} is not available in Clockwork: ${instead}`);
    };
  }

  const REST_TRIGGER = 'jobs have no web trigger URLs; start a run with POST /api/v1/jobs/{job}/runs';
  const webTrigger = freeze({
    getUrl: unavailable('webTrigger.getUrl', REST_TRIGGER),
    deleteUrl: unavailable('webTrigger.deleteUrl', REST_TRIGGER),
    getUrlIds: unavailable('webTrigger.getUrlIds', REST_TRIGGER),
  });
  const REMOTE = 'Forge Remote needs a Forge installation; call your service with fetch(url, init)';
  const invokeRemote = unavailable('invokeRemote', REMOTE);
  const invokeService = unavailable('invokeService', REMOTE);
  const privacy = freeze({
    reportPersonalData: unavailable(
      'privacy.reportPersonalData',
      "call Atlassian's personal data reporting API with fetch() if the job stores personal data",
    ),
  });
  const TRANSLATIONS = "translations come from a Forge app's locales folder, which a job does not have";
  const i18n = freeze({
    createTranslationFunction: unavailable('i18n.createTranslationFunction', TRANSLATIONS),
    getTranslations: unavailable('i18n.getTranslations', TRANSLATIONS),
  });
  const permissions = freeze({
    hasPermission: unavailable(
      'permissions.hasPermission',
      'scheduled and queued runs have no user; ask the product with requestJira (e.g. /rest/api/3/mypermissions)',
    ),
  });
  const getAppContext = unavailable(
    'getAppContext',
    'a job is not a Forge app installation; context.job and event.context describe the run',
  );

  // The errors @forge/api exports, for `instanceof` checks in catch blocks.
  function errorClass(name) {
    const klass = class extends Error {
      constructor(message) {
        super(message);
        this.name = name;
      }
    };
    Object.defineProperty(klass, 'name', { value: name });
    return klass;
  }
  const errorClasses = {};
  for (const name of [
    'HttpError', 'FetchError', 'NotAllowedError', 'ProxyRequestError', 'ExternalEndpointNotAllowedError',
    'InvalidWorkspaceRequestedError', 'RequestProductNotAllowedError', 'NeedsAuthenticationError',
    'ProductEndpointNotAllowedError', 'InvalidRemoteError', 'InvalidContainerServiceError',
  ]) {
    errorClasses[name] = errorClass(name);
  }
  const isForgePlatformError = (error) =>
    Object.values(errorClasses).some((klass) => error instanceof klass);

  // ------------------------------------------- entity properties (§2)
  // Through the product REST API with the app's credential.

  async function productJson(request, path, init, what) {
    const response = await request(assumeTrustedRoute(path), init);
    if (response.status === 404 && (init === undefined || init.method === 'GET')) return undefined;
    if (!response.ok) {
      const detail = await response.text();
      throw new Error(`${what} failed: ${response.status} ${response.statusText} ${detail}`.trim());
    }
    return response.status === 204 ? undefined : response.json().catch(() => undefined);
  }

  function jiraProperties(base, suffix) {
    const path = (key) => `${base}/properties/${encodeURIComponent(key)}${suffix}`;
    const request = asApp.requestJira;
    return freeze({
      async get(key) {
        const answer = await productJson(request, path(key), { method: 'GET' }, `get property '${key}'`);
        return answer === undefined ? undefined : answer.value;
      },
      async set(key, value) {
        const body = jsonText(value, `Property '${key}'`);
        await productJson(request, path(key), { method: 'PUT', body }, `set property '${key}'`);
      },
      async delete(key) {
        await productJson(request, path(key), { method: 'DELETE' }, `delete property '${key}'`);
      },
    });
  }

  function confluenceProperties(base) {
    const path = (key) => `${base}/property/${encodeURIComponent(key)}`;
    const request = asApp.requestConfluence;
    async function current(key) {
      return productJson(request, path(key), { method: 'GET' }, `get property '${key}'`);
    }
    return freeze({
      async get(key) {
        const answer = await current(key);
        return answer === undefined ? undefined : answer.value;
      },
      // Confluence versions its properties: an update names the next version.
      async set(key, value) {
        const existing = await current(key);
        const body = { key, value: JSON.parse(jsonText(value, `Property '${key}'`)) };
        if (existing === undefined) {
          await productJson(request, `${base}/property`, { method: 'POST', body: JSON.stringify(body) },
            `set property '${key}'`);
        } else {
          body.version = { number: ((existing.version && existing.version.number) || 0) + 1 };
          await productJson(request, path(key), { method: 'PUT', body: JSON.stringify(body) },
            `set property '${key}'`);
        }
      },
      async delete(key) {
        await productJson(request, path(key), { method: 'DELETE' }, `delete property '${key}'`);
      },
    });
  }

  const segment = (value) => encodeURIComponent(String(value));
  const properties = freeze({
    onJiraIssue: (issue) => jiraProperties(`/rest/api/3/issue/${segment(issue)}`, ''),
    onJiraProject: (project) => jiraProperties(`/rest/api/3/project/${segment(project)}`, ''),
    onJiraUser: (accountId) =>
      jiraProperties('/rest/api/3/user', `?accountId=${segment(accountId)}`),
    onConfluencePage: (page) => confluenceProperties(`/wiki/rest/api/content/${segment(page)}`),
    onConfluenceSpace: (space) => confluenceProperties(`/wiki/rest/api/space/${segment(space)}`),
  });

  // ------------------------------------------------------------- storage (§3)

  async function kv(request) {
    return JSON.parse(await hostCall(host.kv, JSON.stringify(request)));
  }

  const storable = (key, value) => JSON.parse(jsonText(value, `Value for key "${key}"`));

  function keyOf(item) {
    return typeof item === 'object' && item !== null ? item.key : item;
  }

  const ttlOf = (options) => (options && options.ttl !== undefined ? options.ttl : undefined);

  function startsWith(prefix) {
    return freeze({ condition: 'STARTS_WITH', value: String(prefix) });
  }

  const condition = (name) => (...values) => freeze({ condition: name, values, value: values[0] });
  const WhereConditions = freeze({
    beginsWith: (prefix) => freeze({ condition: 'BEGINS_WITH', values: [String(prefix)], value: String(prefix) }),
    between: condition('BETWEEN'),
    equalsTo: condition('EQUAL_TO'),
    greaterThan: condition('GREATER_THAN'),
    greaterThanEqualTo: condition('GREATER_THAN_EQUAL_TO'),
    lessThan: condition('LESS_THAN'),
    lessThanEqualTo: condition('LESS_THAN_EQUAL_TO'),
  });
  const FilterConditions = freeze({
    ...WhereConditions,
    contains: condition('CONTAINS'),
    notContains: condition('NOT_CONTAINS'),
    notEqualTo: condition('NOT_EQUAL_TO'),
    exists: condition('EXISTS'),
    notExists: condition('NOT_EXISTS'),
  });
  const Sort = freeze({ ASC: 'ASC', DESC: 'DESC' });

  function isCondition(value) {
    return typeof value === 'object' && value !== null && typeof value.condition === 'string';
  }

  function conditionRequest(value, what) {
    if (!isCondition(value)) throw new TypeError(`${what} takes a condition such as WhereConditions.equalsTo(value)`);
    return { condition: value.condition, values: Array.from(value.values || [], (v) => JSON.parse(jsonText(v, 'A condition value'))) };
  }

  function optionalText(value) {
    return value === undefined || value === null ? undefined : String(value);
  }

  // A query on one index of a custom entity; each call returns a new query.
  // Validation (index, partition, types) happens in Rust, when it runs.
  class EntityQuery {
    #state;
    constructor(state) {
      this.#state = freeze(state);
    }
    #with(change) {
      return new EntityQuery({ ...this.#state, ...change });
    }
    index(name, options) {
      const partition = options && options.partition !== undefined ? options.partition : undefined;
      if (partition !== undefined && !Array.isArray(partition)) {
        throw new TypeError('index(name, { partition }) takes an array of the partition attributes\' values');
      }
      return this.#with({ index: String(name), partition });
    }
    where(condition) {
      return this.#with({ where: conditionRequest(condition, 'where()') });
    }
    #filter(operator, attribute, condition) {
      const filters = this.#state.filters;
      if (filters && filters.operator !== operator) {
        throw new TypeError('a query uses andFilter or orFilter, not both');
      }
      const conditions = filters ? filters.conditions : [];
      const added = { attribute: String(attribute), ...conditionRequest(condition, `${operator}Filter()`) };
      return this.#with({ filters: { operator, conditions: [...conditions, added] } });
    }
    andFilter(attribute, condition) {
      return this.#filter('and', attribute, condition);
    }
    orFilter(attribute, condition) {
      return this.#filter('or', attribute, condition);
    }
    sort(order) {
      return this.#with({ sort: String(order) });
    }
    limit(n) {
      return this.#with({ limit: n });
    }
    cursor(c) {
      return this.#with({ cursor: optionalText(c) });
    }
    async getMany() {
      const page = await kv({ op: 'entityQuery', ...this.#state });
      const result = { results: page.results };
      if (page.nextCursor !== null) result.nextCursor = page.nextCursor;
      return result;
    }
    async getOne() {
      const page = await this.#with({ limit: 1 }).getMany();
      return page.results[0];
    }
  }

  function entity(name) {
    if (typeof name !== 'string') throw new TypeError(`entity(name) takes the entity's name, not ${typeof name}`);
    return freeze({
      async get(key) {
        const answer = await kv({ op: 'entityGet', entity: name, key });
        return answer.found ? answer.value : undefined;
      },
      async set(key, value) {
        await kv({ op: 'entitySet', entity: name, key, value: storable(key, value) });
      },
      async delete(key) {
        await kv({ op: 'entityDelete', entity: name, key });
      },
      query: () => new EntityQuery({ entity: name }),
    });
  }

  class Query {
    #prefix;
    #limit;
    #cursor;
    constructor(prefix, limit, cursor) {
      this.#prefix = prefix;
      this.#limit = limit;
      this.#cursor = cursor;
    }
    where(field, condition) {
      if (field !== 'key') throw new TypeError(`queries filter on 'key' only, not '${field}'`);
      if (
        typeof condition !== 'object' || condition === null ||
        (condition.condition !== 'STARTS_WITH' && condition.condition !== 'BEGINS_WITH')
      ) {
        throw new TypeError(
          'where() on keys takes startsWith(prefix) or WhereConditions.beginsWith(prefix); ' +
            'the other conditions are for custom entities: kvs.entity(name).query().index(…).where(…)',
        );
      }
      return new Query(condition.value, this.#limit, this.#cursor);
    }
    limit(n) {
      return new Query(this.#prefix, n, this.#cursor);
    }
    cursor(c) {
      return new Query(this.#prefix, this.#limit, c);
    }
    async getMany() {
      const page = await kv({
        op: 'query', prefix: this.#prefix, limit: this.#limit,
        cursor: this.#cursor === undefined || this.#cursor === null ? undefined : String(this.#cursor),
      });
      const result = { results: page.results };
      if (page.nextCursor !== null) result.nextCursor = page.nextCursor;
      return result;
    }
    async getOne() {
      const page = await new Query(this.#prefix, 1, this.#cursor).getMany();
      return page.results[0];
    }
  }

  const basicStorage = {
    async get(key) {
      const answer = await kv({ op: 'get', key });
      return answer.found ? answer.value : undefined;
    },
    async delete(key) {
      await kv({ op: 'delete', key });
    },
    async getSecret(key) {
      const answer = await kv({ op: 'getSecret', key });
      return answer.found ? answer.value : undefined;
    },
    async setSecret(key, value) {
      await kv({ op: 'setSecret', key, value: storable(key, value) });
    },
    async deleteSecret(key) {
      await kv({ op: 'deleteSecret', key });
    },
    query: () => new Query('', undefined, undefined),
    entity,
  };

  const storage = freeze({
    ...basicStorage,
    async set(key, value) {
      await kv({ op: 'set', key, value: storable(key, value) });
    },
  });

  function keyPolicy(options) {
    const policy = options && options.keyPolicy;
    if (policy === undefined || policy === 'OVERRIDE') return false;
    if (policy === 'FAIL_IF_EXISTS') return true;
    throw new TypeError(`Invalid keyPolicy "${policy}": use 'OVERRIDE' or 'FAIL_IF_EXISTS'`);
  }

  class Transaction {
    #ops = [];
    set(key, value, options) {
      this.#ops.push({
        type: 'set', key, value: storable(key, value), ttl: ttlOf(options), ifAbsent: keyPolicy(options),
      });
      return this;
    }
    delete(key) {
      this.#ops.push({ type: 'delete', key });
      return this;
    }
    check(key, condition) {
      if (typeof condition !== 'object' || condition === null) {
        throw new TypeError('check(key, condition) takes { exists: true | false } or { equals: value }');
      }
      const op = { type: 'check', key };
      if ('exists' in condition) op.exists = Boolean(condition.exists);
      if ('equals' in condition) op.equals = storable(key, condition.equals);
      this.#ops.push(op);
      return this;
    }
    async execute() {
      await kv({ op: 'transact', ops: this.#ops });
    }
  }

  const kvs = freeze({
    ...basicStorage,
    async set(key, value, options) {
      await kv({
        op: 'set', key, value: storable(key, value), ttl: ttlOf(options), ifAbsent: keyPolicy(options),
      });
    },
    async batchGet(items) {
      return kv({ op: 'batchGet', keys: Array.from(items, keyOf) });
    },
    async batchSet(items) {
      return kv({
        op: 'batchSet',
        items: Array.from(items, (item) => ({
          key: item.key, value: storable(item.key, item.value), ttl: ttlOf(item.options),
        })),
      });
    },
    async batchDelete(items) {
      return kv({ op: 'batchDelete', keys: Array.from(items, keyOf) });
    },
    transact: () => new Transaction(),
  });

  // -------------------------------------------------------------- queues (§4)

  const QUEUE_KEY = /^[a-zA-Z0-9-_]+$/;

  async function queueCall(request) {
    return JSON.parse(await hostCall(host.queue, JSON.stringify(request)));
  }

  const pushable = (payload) => JSON.parse(jsonText(payload, 'an event body'));

  const isPushEvent = (value) =>
    typeof value === 'object' && value !== null && !Array.isArray(value) && 'body' in value;

  function pushEvent(event) {
    if (typeof event.body !== 'object' || event.body === null || Array.isArray(event.body)) {
      throw new TypeError('an event body must be an object');
    }
    return { body: pushable(event.body), delayInSeconds: event.delayInSeconds, concurrency: event.concurrency };
  }

  class JobProgress {
    #queue;
    #jobId;
    constructor(queue, jobId) {
      this.#queue = queue;
      this.#jobId = jobId;
    }
    async getStats() {
      return queueCall({ op: 'stats', queue: this.#queue, jobId: this.#jobId });
    }
    async cancel() {
      await queueCall({ op: 'cancel', queue: this.#queue, jobId: this.#jobId });
    }
  }

  class Queue {
    #key;
    constructor(options) {
      const key = options && options.key;
      if (typeof key !== 'string' || !QUEUE_KEY.test(key)) {
        throw new TypeError(`Invalid queue key "${key}": it must match ^[a-zA-Z0-9-_]+$`);
      }
      this.#key = key;
    }
    get key() {
      return this.#key;
    }
    // push(events) with { body, delayInSeconds?, concurrency? } or an array of
    // them; or the 1.x form push(payload | payload[], { delayInSeconds }).
    async push(events, options) {
      const list = Array.isArray(events) ? events : [events];
      let normalised;
      if (options !== undefined || !list.every(isPushEvent)) {
        const delayInSeconds = options ? options.delayInSeconds : undefined;
        normalised = list.map((payload) => ({ body: pushable(payload), delayInSeconds }));
      } else {
        normalised = list.map(pushEvent);
      }
      return queueCall({ op: 'push', queue: this.#key, events: normalised });
    }
    getJob(jobId) {
      const id = typeof jobId === 'object' && jobId !== null ? jobId.jobId : jobId;
      return new JobProgress(this.#key, String(id));
    }
  }

  const InvocationErrorCode = freeze({
    FUNCTION_UPSTREAM_RATE_LIMITED: 'FUNCTION_UPSTREAM_RATE_LIMITED',
    FUNCTION_RETRY_REQUEST: 'FUNCTION_RETRY_REQUEST',
  });

  class InvocationError {
    constructor(options) {
      this.retryOptions = freeze({ ...(options || {}) });
    }
  }

  // ------------------------------------------------ @forge/resolver 1.x (§1)
  // `resolver.getDefinitions()` is a handler: called with a queue event it
  // runs the one definition (or the one the event's `call.functionKey`
  // names) as `definition({ payload, context })`, payload = the event body.

  class Resolver {
    #definitions = new Map();
    define(key, fn) {
      if (typeof fn !== 'function') throw new TypeError(`Resolver.define('${key}', …) needs a function`);
      if (this.#definitions.has(key)) throw new Error(`Resolver definition '${key}' already exists.`);
      this.#definitions.set(String(key), fn);
      return this;
    }
    getDefinitions() {
      const definitions = new Map(this.#definitions);
      return async function resolve(event, runContext) {
        const call = event && typeof event === 'object' && event.call ? event.call : undefined;
        let key = call && call.functionKey;
        if (key === undefined) {
          if (definitions.size !== 1) {
            throw new Error(
              `the resolver defines ${definitions.size === 0 ? 'no functions' : [...definitions.keys()].join(', ')}; ` +
                'a job runs a resolver with exactly one definition',
            );
          }
          key = definitions.keys().next().value;
        }
        const fn = definitions.get(key);
        if (fn === undefined) throw new Error(`Resolver has no definition for '${key}'.`);
        const isQueued = event && typeof event === 'object' && 'body' in event && 'jobId' in event;
        const payload = call ? call.payload : isQueued ? event.body : event;
        const resolverContext = { ...runContext };
        if (isQueued) {
          resolverContext.jobId = event.jobId;
          if (event.retryContext !== undefined) resolverContext.retryContext = event.retryContext;
        }
        return fn({ payload, context: resolverContext });
      };
    }
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
  function settle(value) {
    if (value instanceof InvocationError) {
      return { retry: JSON.stringify(value.retryOptions) };
    }
    return { json: JSON.stringify(value) };
  }

  return {
    modules: {
      '@forge/api': {
        default: api, asApp: api.asApp, asUser: api.asUser, route, assumeTrustedRoute, routeFromAbsolute,
        fetch, authorize, requestJira: api.requestJira, requestConfluence: api.requestConfluence,
        requestBitbucket: api.requestBitbucket, storage, properties, webTrigger, startsWith,
        WhereConditions, FilterConditions, SortOrder: Sort, invokeRemote, invokeService, privacy, i18n,
        permissions, getAppContext, isForgePlatformError, ...errorClasses,
      },
      '@forge/kvs': { default: kvs, kvs, WhereConditions, FilterConditions, Sort },
      '@forge/events': { Queue, InvocationError, InvocationErrorCode },
      '@forge/resolver': { default: Resolver },
      '@forge/bridge': { requestJira: bridge.requestJira, requestConfluence: bridge.requestConfluence },
    },
    globals: {
      api, route, fetch, authorize, storage, kvs, Queue, InvocationError, event, context,
      requestJira: bridge.requestJira, requestConfluence: bridge.requestConfluence,
    },
    event,
    context,
    settle,
  };
}
