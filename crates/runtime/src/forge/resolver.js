// The Forge API surface, part `resolver`: `@forge/resolver` 1.x (FORGE-API
// §1). Built when a script first imports or requires it.
export default function forgeResolver() {
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

  return { Resolver };
}
