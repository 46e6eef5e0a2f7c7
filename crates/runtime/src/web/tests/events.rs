//! Event, EventTarget, AbortController and AbortSignal.

use super::check::{check, check_async};

#[test]
fn event_target_dispatches_to_listeners() {
    check(&[
        (
            "const t = new EventTarget(); const seen = []; t.addEventListener('x', (e) => seen.push(e.type + (e.target === t))); t.addEventListener('x', { handleEvent(e) { seen.push('obj') } }); const ok = t.dispatchEvent(new Event('x')); return seen.join() + ' ' + ok",
            "xtrue,obj true",
        ),
        (
            "const t = new EventTarget(); let n = 0; const f = () => n++; t.addEventListener('x', f); t.addEventListener('x', f); t.dispatchEvent(new Event('x')); return n",
            "1",
        ),
        (
            "const t = new EventTarget(); let n = 0; t.addEventListener('x', () => n++, { once: true }); t.dispatchEvent(new Event('x')); t.dispatchEvent(new Event('x')); return n",
            "1",
        ),
        (
            "const t = new EventTarget(); let n = 0; const f = () => n++; t.addEventListener('x', f); t.removeEventListener('x', f); t.dispatchEvent(new Event('x')); return n",
            "0",
        ),
        (
            "const t = new EventTarget(); const seen = []; t.addEventListener('x', (e) => { seen.push(1); e.stopImmediatePropagation(); }); t.addEventListener('x', () => seen.push(2)); t.dispatchEvent(new Event('x')); return seen.join()",
            "1",
        ),
        (
            "const t = new EventTarget(); t.addEventListener('x', (e) => e.preventDefault()); return t.dispatchEvent(new Event('x', { cancelable: true })) + ' ' + t.dispatchEvent(new Event('x'))",
            "false true",
        ),
        (
            "const c = new AbortController(); const t = new EventTarget(); let n = 0; t.addEventListener('x', () => n++, { signal: c.signal }); c.abort(); t.dispatchEvent(new Event('x')); return n",
            "0",
        ),
        (
            "const e = new Event('go', { bubbles: true }); return [e.type, e.bubbles, e.cancelable, e.defaultPrevented, e.target, e.eventPhase, e.isTrusted, typeof e.timeStamp].join()",
            "go,true,false,false,,0,false,number",
        ),
        (
            "new Event()",
            "THROW TypeError TypeError: The \"type\" argument must be specified",
        ),
        (
            "new EventTarget().dispatchEvent({ type: 'x' })",
            "THROW TypeError TypeError: The \"event\" argument must be an instance of Event.",
        ),
        (
            "new EventTarget().addEventListener('x', 5)",
            "THROW TypeError TypeError: The \"listener\" argument must be an instance of EventListener.",
        ),
        (
            "class Custom extends Event { constructor() { super('custom'); this.detail = 7 } } const t = new EventTarget(); let d; t.addEventListener('custom', (e) => d = e.detail); t.dispatchEvent(new Custom()); return d",
            "7",
        ),
    ]);
}

#[test]
fn abort_controller_aborts_its_signal() {
    check(&[
        (
            "const c = new AbortController(); const s = c.signal; const before = s.aborted; c.abort('why'); return [before, s.aborted, s.reason].join()",
            "false,true,why",
        ),
        (
            "const c = new AbortController(); c.abort(); return c.signal.reason instanceof DOMException && c.signal.reason.name + ': ' + c.signal.reason.message",
            "AbortError: This operation was aborted",
        ),
        (
            "const c = new AbortController(); const seen = []; c.signal.onabort = (e) => seen.push('on:' + e.type); c.signal.addEventListener('abort', () => seen.push('listener')); c.abort(); c.abort(); return seen.join()",
            "on:abort,listener",
        ),
        (
            "const c = new AbortController(); c.signal.throwIfAborted(); c.abort(new TypeError('stop')); c.signal.throwIfAborted()",
            "THROW TypeError TypeError: stop",
        ),
        (
            "const s = AbortSignal.abort(); return s.aborted + ' ' + s.reason.name",
            "true AbortError",
        ),
        (
            "const a = new AbortController(); const b = new AbortController(); const s = AbortSignal.any([a.signal, b.signal]); b.abort('b'); return s.aborted + ' ' + s.reason",
            "true b",
        ),
        (
            "return AbortSignal.any([AbortSignal.abort('early')]).reason",
            "early",
        ),
        (
            "return new AbortController().signal instanceof EventTarget",
            "true",
        ),
        (
            "new AbortSignal()",
            "THROW TypeError TypeError: Illegal constructor",
        ),
        (
            "AbortSignal.any([{}])",
            "THROW TypeError TypeError: The \"signals\" argument must be an array of AbortSignal instances.",
        ),
        (
            "AbortSignal.timeout(10)",
            "THROW TypeError TypeError: AbortSignal.timeout needs timers, which this runtime has not installed",
        ),
        (
            "AbortSignal.timeout(-1)",
            "THROW RangeError RangeError: The value of \"delay\" is out of range. It must be >= 0 && <= 9007199254740991. Received -1",
        ),
    ]);
}

/// `AbortSignal.timeout` relies on the runtime's `setTimeout`; a stand-in
/// timer queue shows the signal aborts with a TimeoutError when it fires.
#[test]
fn abort_signal_timeout_uses_the_runtime_timers() {
    check(&[(
        "const timers = []; globalThis.setTimeout = (f, ms) => timers.push([f, ms]); const s = AbortSignal.timeout(50); const before = s.aborted; timers[0][0](); return [before, timers[0][1], s.aborted, s.reason.name, s.reason.message].join()",
        "false,50,true,TimeoutError,The operation was aborted due to timeout",
    )]);
}

/// A throwing listener does not stop the others; its error surfaces as an
/// unhandled rejection (the web's "report the exception").
#[test]
fn listener_errors_are_reported_not_thrown() {
    check_async(&[(
        "const t = new EventTarget(); let second = false; t.addEventListener('x', () => { throw new Error('bad') }); t.addEventListener('x', () => second = true); t.dispatchEvent(new Event('x')); return second",
        "true",
    )]);
}
