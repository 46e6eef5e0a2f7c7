// The Forge API surface, part `api`: the names of `@forge/api` beyond
// routes and requests (unservable names, error classes, `storage`,
// `properties`, conditions). Built when a script first imports or
// requires `@forge/api`, or reads the `storage` global. `storage.query()`,
// `storage.entity()` and the `properties` accessors load the parts that
// implement them (`storage`, `properties`) when first called.
//
// Everything done while building uses only what `shared` captured (see
// forge.js): the script may have replaced built-ins by then.
export default function forgeApi(shared) {
  const { host, freeze, defineProperty, jsonText, hostCall, part } = shared;
  const BuiltinError = shared.Error;

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

  // The errors @forge/api exports, for `instanceof` checks in catch blocks.
  function errorClass(name) {
    const klass = class extends BuiltinError {
      constructor(message) {
        super(message);
        this.name = name;
      }
    };
    defineProperty(klass, 'name', { __proto__: null, value: name });
    return klass;
  }
  const errorNames = [
    'HttpError', 'FetchError', 'NotAllowedError', 'ProxyRequestError', 'ExternalEndpointNotAllowedError',
    'InvalidWorkspaceRequestedError', 'RequestProductNotAllowedError', 'NeedsAuthenticationError',
    'ProductEndpointNotAllowedError', 'InvalidRemoteError', 'InvalidContainerServiceError',
  ];
  const errorClasses = { __proto__: null };
  for (let i = 0; i < errorNames.length; i++) {
    errorClasses[errorNames[i]] = errorClass(errorNames[i]);
  }
  const isForgePlatformError = (error) =>
    Object.values(errorClasses).some((klass) => error instanceof klass);

  // ------------------------------------------- entity properties (§2)
  // Through the product REST API with the app's credential (part `properties`).

  const segment = (value) => encodeURIComponent(String(value));
  const properties = freeze({
    onJiraIssue: (issue) => part('properties').jira(`/rest/api/3/issue/${segment(issue)}`, ''),
    onJiraProject: (project) => part('properties').jira(`/rest/api/3/project/${segment(project)}`, ''),
    onJiraUser: (accountId) =>
      part('properties').jira('/rest/api/3/user', `?accountId=${segment(accountId)}`),
    onConfluencePage: (page) => part('properties').confluence(`/wiki/rest/api/content/${segment(page)}`),
    onConfluenceSpace: (space) => part('properties').confluence(`/wiki/rest/api/space/${segment(space)}`),
  });

  // ------------------------------------------------------------- storage (§3)

  async function kv(request) {
    return JSON.parse(await hostCall(host.kv, JSON.stringify(request)));
  }

  const storable = (key, value) => JSON.parse(jsonText(value, `Value for key "${key}"`));

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

  // Queries, entities and `kvs` are in part `storage`.
  function entity(name) {
    return part('storage').entity(name);
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
    query: () => part('storage').query(),
    entity,
  };

  const storage = freeze({
    ...basicStorage,
    async set(key, value) {
      await kv({ op: 'set', key, value: storable(key, value) });
    },
  });

  return {
    webTrigger, invokeRemote, invokeService, privacy, i18n, permissions, getAppContext, errorClasses,
    isForgePlatformError, properties, kv, storable, startsWith, WhereConditions, FilterConditions, Sort,
    basicStorage, storage,
  };
}
