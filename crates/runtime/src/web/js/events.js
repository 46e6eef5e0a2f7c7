// Clockwork web globals: Event, EventTarget, AbortController, AbortSignal
// (DOM Standard, without capture/bubbling: there is no tree to propagate in).
export default function makeEvents(host, need) {
  const secret = {};
  const clock = globalThis.performance; // captured: a script may delete the global

  class Event {
    #type;
    #bubbles;
    #cancelable;
    #composed;
    #defaultPrevented = false;
    #stop = false;
    #stopImmediate = false;
    #target = null;
    #currentTarget = null;
    #dispatching = false;
    #timeStamp = clock.now();

    constructor(type, init = undefined) {
      if (arguments.length === 0) throw new TypeError('The "type" argument must be specified');
      this.#type = String(type);
      this.#bubbles = Boolean(init?.bubbles);
      this.#cancelable = Boolean(init?.cancelable);
      this.#composed = Boolean(init?.composed);
    }
    get type() { return this.#type; }
    get bubbles() { return this.#bubbles; }
    get cancelable() { return this.#cancelable; }
    get composed() { return this.#composed; }
    get defaultPrevented() { return this.#cancelable && this.#defaultPrevented; }
    get returnValue() { return !this.defaultPrevented; }
    get target() { return this.#target; }
    get currentTarget() { return this.#currentTarget; }
    get srcElement() { return this.#target; }
    get eventPhase() { return this.#dispatching ? Event.AT_TARGET : Event.NONE; }
    get isTrusted() { return false; }
    get timeStamp() { return this.#timeStamp; }
    get cancelBubble() { return this.#stop; }
    set cancelBubble(value) { if (value) this.#stop = true; }
    composedPath() { return this.#dispatching && this.#currentTarget !== null ? [this.#currentTarget] : []; }
    preventDefault() { this.#defaultPrevented = true; }
    stopPropagation() { this.#stop = true; }
    stopImmediatePropagation() { this.#stop = true; this.#stopImmediate = true; }
    get [Symbol.toStringTag]() { return 'Event'; }

    static _begin(event, target) {
      if (event.#dispatching) throw new DOMException('The event is already being dispatched.', 'InvalidStateError');
      event.#dispatching = true;
      event.#target = target;
      event.#currentTarget = target;
      event.#stop = false;
      event.#stopImmediate = false;
    }
    static _end(event) {
      event.#dispatching = false;
      event.#currentTarget = null;
    }
    static _stoppedImmediately(event) {
      return event.#stopImmediate;
    }
  }
  for (const [name, value] of [['NONE', 0], ['CAPTURING_PHASE', 1], ['AT_TARGET', 2], ['BUBBLING_PHASE', 3]]) {
    Object.defineProperty(Event, name, { value, enumerable: true });
    Object.defineProperty(Event.prototype, name, { value, enumerable: true });
  }
  const beginDispatch = Event._begin;
  const endDispatch = Event._end;
  const stoppedImmediately = Event._stoppedImmediately;
  delete Event._begin;
  delete Event._end;
  delete Event._stoppedImmediately;

  // An exception in a listener must not stop the dispatch; it is reported the
  // way the web reports it, as an unhandled error (here: a rejected promise).
  function report(error) {
    Promise.reject(error);
  }

  function flatten(options) {
    if (typeof options === 'boolean') return { capture: options, once: false, passive: false, signal: undefined };
    if (options === undefined || options === null) return { capture: false, once: false, passive: false, signal: undefined };
    return { capture: Boolean(options.capture), once: Boolean(options.once), passive: Boolean(options.passive), signal: options.signal };
  }

  class EventTarget {
    #listeners = new Map(); // type → [{ callback, capture, once, removed }]

    addEventListener(type, callback, options = undefined) {
      if (arguments.length < 2) throw new TypeError('The "type" and "listener" arguments must be specified');
      const { capture, once, signal } = flatten(options);
      if (callback === null || callback === undefined) return;
      if (typeof callback !== 'function' && typeof callback !== 'object') {
        throw new TypeError('The "listener" argument must be an instance of EventListener.');
      }
      if (signal !== undefined && !(signal instanceof AbortSignal)) {
        throw new TypeError('The "options.signal" property must be an instance of AbortSignal.');
      }
      if (signal?.aborted) return;
      type = String(type);
      let list = this.#listeners.get(type);
      if (list === undefined) {
        list = [];
        this.#listeners.set(type, list);
      }
      if (list.some((entry) => entry.callback === callback && entry.capture === capture)) return;
      const entry = { callback, capture, once, removed: false };
      list.push(entry);
      if (signal !== undefined) {
        signal.addEventListener('abort', () => this.removeEventListener(type, callback, { capture }));
      }
    }

    removeEventListener(type, callback, options = undefined) {
      const { capture } = flatten(options);
      const list = this.#listeners.get(String(type));
      if (list === undefined) return;
      const index = list.findIndex((entry) => entry.callback === callback && entry.capture === capture);
      if (index !== -1) {
        list[index].removed = true;
        list.splice(index, 1);
      }
    }

    dispatchEvent(event) {
      if (!(event instanceof Event)) {
        throw new TypeError('The "event" argument must be an instance of Event.');
      }
      beginDispatch(event, this);
      try {
        const list = this.#listeners.get(event.type);
        if (list !== undefined) {
          for (const entry of [...list]) {
            if (entry.removed) continue;
            if (entry.once) this.removeEventListener(event.type, entry.callback, { capture: entry.capture });
            try {
              if (typeof entry.callback === 'function') entry.callback.call(this, event);
              else if (typeof entry.callback.handleEvent === 'function') entry.callback.handleEvent(event);
            } catch (error) {
              report(error);
            }
            if (stoppedImmediately(event)) break;
          }
        }
      } finally {
        endDispatch(event);
      }
      return !event.defaultPrevented;
    }
    get [Symbol.toStringTag]() { return 'EventTarget'; }
  }

  const defaultReason = () => new DOMException('This operation was aborted', 'AbortError');

  class AbortSignal extends EventTarget {
    #aborted = false;
    #reason = undefined;
    #onabort = null;
    #onabortListener = null;

    constructor(key = undefined) {
      if (key !== secret) throw new TypeError('Illegal constructor');
      super();
    }
    get aborted() { return this.#aborted; }
    get reason() { return this.#reason; }
    throwIfAborted() {
      if (this.#aborted) throw this.#reason;
    }
    get onabort() { return this.#onabort; }
    set onabort(handler) {
      this.#onabort = typeof handler === 'function' || (typeof handler === 'object' && handler !== null) ? handler : null;
      if (this.#onabortListener === null) {
        this.#onabortListener = (event) => {
          const current = this.#onabort;
          if (typeof current === 'function') current.call(this, event);
        };
        this.addEventListener('abort', this.#onabortListener);
      }
    }
    get [Symbol.toStringTag]() { return 'AbortSignal'; }
    [Symbol.for('nodejs.util.inspect.custom')]() {
      return `AbortSignal { aborted: ${this.#aborted} }`;
    }

    static _abort(signal, reason) {
      if (signal.#aborted) return;
      signal.#aborted = true;
      signal.#reason = reason === undefined ? defaultReason() : reason;
      signal.dispatchEvent(new Event('abort'));
    }

    static abort(reason = undefined) {
      const signal = new AbortSignal(secret);
      signal.#aborted = true;
      signal.#reason = reason === undefined ? defaultReason() : reason;
      return signal;
    }

    static any(signals) {
      const list = [...signals];
      for (const signal of list) {
        if (!(signal instanceof AbortSignal)) {
          throw new TypeError('The "signals" argument must be an array of AbortSignal instances.');
        }
      }
      const combined = new AbortSignal(secret);
      const already = list.find((signal) => signal.aborted);
      if (already !== undefined) {
        combined.#aborted = true;
        combined.#reason = already.reason;
        return combined;
      }
      for (const signal of list) {
        signal.addEventListener('abort', () => abortSignal(combined, signal.reason), { once: true });
      }
      return combined;
    }

    // Timers belong to the runtime: this uses the global setTimeout it installed.
    static timeout(milliseconds) {
      const delay = Number(milliseconds);
      if (!Number.isFinite(delay) || delay < 0) {
        throw new RangeError(`The value of "delay" is out of range. It must be >= 0 && <= ${2 ** 53 - 1}. Received ${milliseconds}`);
      }
      const setTimeout = globalThis.setTimeout;
      if (typeof setTimeout !== 'function') throw new TypeError('AbortSignal.timeout needs timers, which this runtime has not installed');
      const signal = new AbortSignal(secret);
      setTimeout(() => abortSignal(signal, new DOMException('The operation was aborted due to timeout', 'TimeoutError')), delay);
      return signal;
    }
  }
  const abortSignal = AbortSignal._abort;
  delete AbortSignal._abort;

  class AbortController {
    #signal = new AbortSignal(secret);
    get signal() { return this.#signal; }
    abort(reason = undefined) {
      abortSignal(this.#signal, reason);
    }
    get [Symbol.toStringTag]() { return 'AbortController'; }
    [Symbol.for('nodejs.util.inspect.custom')]() {
      return `AbortController { signal: AbortSignal { aborted: ${this.#signal.aborted} } }`;
    }
  }

  for (const klass of [Event, EventTarget, AbortSignal, AbortController]) host.classes.add(klass);
  return { Event, EventTarget, AbortSignal, AbortController };
}
