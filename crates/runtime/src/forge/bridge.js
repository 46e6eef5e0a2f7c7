// The Forge API surface, part `bridge`: Script Master's console bridge
// (`@forge/bridge`, and the `requestJira` / `requestConfluence` globals of
// a script). Built when a script first reaches it.
export default function forgeBridge(shared) {
  const { freeze, isRoute, assumeTrustedRoute, asApp } = shared;

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

  return bridge;
}
