// The Forge API surface, part `events`: `Queue` and `InvocationError`
// (`@forge/events`, FORGE-API §4). Built when a script first reaches them.
//
// Everything done while building uses only what `shared` captured (see
// forge.js): the script may have replaced built-ins by then.
export default function forgeEvents(shared) {
  const { host, freeze, jsonText, hostCall } = shared;

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

  return { Queue, InvocationError, InvocationErrorCode };
}
