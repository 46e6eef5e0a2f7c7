// The Forge API surface, part `properties`: entity properties of Jira
// issues, projects and users and of Confluence pages and spaces (FORGE-API
// §2), through the product REST API with the app's credential. Built when a
// script first calls one of `properties`' accessors.
export default function forgeProperties(shared) {
  const { freeze, jsonText, assumeTrustedRoute, asApp } = shared;

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


  return { jira: jiraProperties, confluence: confluenceProperties };
}
