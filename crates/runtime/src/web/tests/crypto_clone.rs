//! crypto.randomUUID / getRandomValues and structuredClone.

use super::check::check;

#[test]
fn crypto_random_values_and_uuids() {
    check(&[
        (
            "return /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(crypto.randomUUID())",
            "true",
        ),
        (
            "return new Set(Array.from({ length: 100 }, () => crypto.randomUUID())).size",
            "100",
        ),
        (
            "const { randomUUID } = crypto; return randomUUID().length",
            "36",
        ),
        (
            "const a = new Uint32Array(64); const r = crypto.getRandomValues(a); return r === a && a.some((x) => x !== 0)",
            "true",
        ),
        (
            "const a = new Uint8Array(8); crypto.getRandomValues(a.subarray(4)); return a.slice(0, 4).join()",
            "0,0,0,0",
        ),
        (
            "return crypto.getRandomValues(new BigUint64Array(2)).length",
            "2",
        ),
        (
            "return crypto instanceof Crypto && Object.prototype.toString.call(crypto)",
            "[object Crypto]",
        ),
        (
            "crypto.getRandomValues(new Float64Array(2))",
            "THROW DOMException TypeMismatchError: The data argument must be an integer-type TypedArray",
        ),
        (
            "crypto.getRandomValues([1, 2])",
            "THROW DOMException TypeMismatchError: The data argument must be an integer-type TypedArray",
        ),
        (
            "crypto.getRandomValues(new Uint8Array(65537))",
            "THROW DOMException QuotaExceededError: The ArrayBufferView's byte length (65537) exceeds the number of bytes of entropy available via this API (65536)",
        ),
        (
            "new Crypto()",
            "THROW TypeError TypeError: Illegal constructor",
        ),
        ("return typeof crypto.subtle.digest", "function"),
    ]);
}

#[test]
fn structured_clone_copies_supported_values() {
    check(&[
        (
            "const o = { a: [1, { b: 'x' }], n: null, u: undefined, big: 2n }; const c = structuredClone(o); return c !== o && c.a !== o.a && JSON.stringify(c, (k, v) => typeof v === 'bigint' ? v + 'n' : v) + ('u' in c)",
            "{\"a\":[1,{\"b\":\"x\"}],\"n\":null,\"big\":\"2n\"}true",
        ),
        (
            "const d = structuredClone(new Date(5)); return d instanceof Date && d.getTime()",
            "5",
        ),
        (
            "const r = structuredClone(/a+/gi); return r instanceof RegExp && r.source + r.flags",
            "a+gi",
        ),
        (
            "const m = structuredClone(new Map([[1, { x: 1 }]])); return m instanceof Map && m.get(1).x",
            "1",
        ),
        (
            "const s = structuredClone(new Set([1, 2])); return s instanceof Set && [...s].join()",
            "1,2",
        ),
        (
            "const b = new Uint8Array([1, 2, 3]); const c = structuredClone(b); b[0] = 9; return c instanceof Uint8Array && c.join()",
            "1,2,3",
        ),
        (
            "const buf = new ArrayBuffer(4); const c = structuredClone({ x: new Uint8Array(buf, 1, 2), y: new Uint16Array(buf) }); return c.x.buffer === c.y.buffer && c.x.byteOffset",
            "1",
        ),
        (
            "const c = structuredClone(new DataView(new ArrayBuffer(3), 1)); return c instanceof DataView && c.byteLength",
            "2",
        ),
        (
            "const o = { name: 'o' }; o.self = o; const c = structuredClone(o); return c.self === c && c !== o",
            "true",
        ),
        (
            "const shared = {}; const c = structuredClone([shared, shared]); return c[0] === c[1]",
            "true",
        ),
        (
            "const e = structuredClone(new TypeError('bad', { cause: 1 })); return e instanceof TypeError && e.message + e.cause",
            "bad1",
        ),
        (
            "const c = structuredClone(new (class Foo { constructor() { this.x = 1 } })()); return Object.getPrototypeOf(c) === Object.prototype && c.x",
            "1",
        ),
        (
            "const c = structuredClone([1, , 3]); return c.length + ' ' + (1 in c)",
            "3 false",
        ),
        (
            "const c = structuredClone(Object(1)); return typeof c + c.valueOf()",
            "object1",
        ),
        (
            "return structuredClone('s') + structuredClone(1) + structuredClone(null)",
            "s1null",
        ),
        (
            "const buf = new ArrayBuffer(8); const c = structuredClone(buf, { transfer: [buf] }); return buf.byteLength + ',' + c.byteLength",
            "0,8",
        ),
    ]);
}

#[test]
fn structured_clone_rejects_what_cannot_be_cloned() {
    check(&[
        (
            "structuredClone(function f() {})",
            "THROW DOMException DataCloneError: function f() {} could not be cloned.",
        ),
        (
            "structuredClone({ s: Symbol('x') })",
            "THROW DOMException DataCloneError: Symbol(x) could not be cloned.",
        ),
        (
            "structuredClone(new WeakMap())",
            "THROW DOMException DataCloneError: #<WeakMap> could not be cloned.",
        ),
        (
            "structuredClone(Promise.resolve())",
            "THROW DOMException DataCloneError: #<Promise> could not be cloned.",
        ),
        (
            "structuredClone(new Proxy({}, {}))",
            "THROW DOMException DataCloneError: #<Object> could not be cloned.",
        ),
        (
            "structuredClone({}, { transfer: [{}] })",
            "THROW DOMException DataCloneError: Value not transferable",
        ),
        (
            "structuredClone()",
            "THROW TypeError TypeError: Failed to execute 'structuredClone': 1 argument required, but only 0 present.",
        ),
        (
            "try { structuredClone(() => 1) } catch (e) { return e.code + ' ' + e.name }",
            "25 DataCloneError",
        ),
    ]);
}
