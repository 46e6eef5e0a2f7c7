//! Headers, Request and Response.

use super::check::{check, check_async};

#[test]
fn headers_are_case_insensitive_and_combine_values() {
    check(&[
        (
            "const h = new Headers({ 'Content-Type': 'text/plain' }); return h.get('content-type') + ' ' + h.has('CONTENT-TYPE')",
            "text/plain true",
        ),
        (
            "const h = new Headers(); h.append('Accept', 'a'); h.append('accept', 'b'); return h.get('ACCEPT')",
            "a, b",
        ),
        (
            "const h = new Headers([['b', '2'], ['a', '1'], ['C', '3']]); return [...h].map(([k, v]) => k + '=' + v).join('&')",
            "a=1&b=2&c=3",
        ),
        (
            "const h = new Headers({ x: '1' }); h.set('X', '2'); h.append('y', ' padded\\t'); return [...h.entries()].join('|')",
            "x,2|y,padded",
        ),
        (
            "const h = new Headers({ x: '1', y: '2' }); h.delete('X'); return [...h.keys()].join() + ' ' + [...h.values()].join() + ' ' + h.get('x')",
            "y 2 null",
        ),
        (
            "const h = new Headers(); h.append('Set-Cookie', 'a=1'); h.append('set-cookie', 'b=2'); h.append('z', '1'); return JSON.stringify([h.getSetCookie(), h.get('set-cookie'), [...h]])",
            "[[\"a=1\",\"b=2\"],\"a=1, b=2\",[[\"set-cookie\",\"a=1\"],[\"set-cookie\",\"b=2\"],[\"z\",\"1\"]]]",
        ),
        (
            "const out = []; new Headers({ b: '2', a: '1' }).forEach((v, k, h) => out.push(k + v + (h instanceof Headers))); return out.join()",
            "a1true,b2true",
        ),
        (
            "const a = new Headers({ x: '1' }); const b = new Headers(a); b.set('x', '2'); return a.get('x') + b.get('x')",
            "12",
        ),
        ("return new Headers().get('missing')", "null"),
        (
            "new Headers({ 'bad name': 'x' })",
            "THROW TypeError TypeError: Headers.append: \"bad name\" is an invalid header name.",
        ),
        (
            "new Headers().set('x', 'a\\nb')",
            "THROW TypeError TypeError: Headers.set: \"a\nb\" is an invalid header value.",
        ),
        (
            "new Headers([['a', '1', '2']])",
            "THROW TypeError TypeError: Headers constructor: expected name/value pair to be length 2, found 3.",
        ),
        (
            "new Headers(5)",
            "THROW TypeError TypeError: Failed to construct 'Headers': The provided value is not of type '(record<ByteString, ByteString> or sequence<sequence<ByteString>>)'.",
        ),
        (
            "new Headers().get()",
            "THROW TypeError TypeError: Headers.get: 1 argument required, but only 0 present.",
        ),
    ]);
}

#[test]
fn response_construction_and_properties() {
    check(&[
        (
            "const r = new Response('hi', { status: 201, statusText: 'Created', headers: { 'X-A': '1' } }); return [r.status, r.statusText, r.ok, r.headers.get('x-a'), r.headers.get('content-type'), r.url, r.redirected, r.type, r.bodyUsed].join()",
            "201,Created,true,1,text/plain;charset=UTF-8,,false,default,false",
        ),
        (
            "const r = new Response(); return [r.status, r.ok, r.statusText].join()",
            "200,true,",
        ),
        ("return new Response(null, { status: 404 }).ok", "false"),
        (
            "return new Response(new URLSearchParams('a=1')).headers.get('content-type')",
            "application/x-www-form-urlencoded;charset=UTF-8",
        ),
        (
            "return new Response(new Uint8Array([1])).headers.get('content-type')",
            "null",
        ),
        (
            "return new Response('x', { headers: { 'content-type': 'text/csv' } }).headers.get('content-type')",
            "text/csv",
        ),
        (
            "const r = Response.json({ a: 1 }, { status: 202 }); return r.status + ' ' + r.headers.get('content-type')",
            "202 application/json",
        ),
        (
            "const r = Response.error(); return [r.type, r.status, r.ok].join()",
            "error,0,false",
        ),
        (
            "const r = Response.redirect('https://h/x', 301); return r.status + ' ' + r.headers.get('location')",
            "301 https://h/x",
        ),
        (
            "new Response('x', { status: 100 })",
            "THROW RangeError RangeError: init[\"status\"] must be in the range of 200 to 599, inclusive.",
        ),
        (
            "new Response('x', { status: 600 })",
            "THROW RangeError RangeError: init[\"status\"] must be in the range of 200 to 599, inclusive.",
        ),
        (
            "new Response('x', { status: 204 })",
            "THROW TypeError TypeError: Response constructor: Invalid response status code 204",
        ),
        (
            "new Response('x', { statusText: 'bad\\n' })",
            "THROW TypeError TypeError: Invalid statusText",
        ),
        (
            "Response.json(undefined)",
            "THROW TypeError TypeError: Value is not JSON serializable",
        ),
        (
            "Response.redirect('https://h/', 200)",
            "THROW RangeError RangeError: Invalid status code 200",
        ),
        (
            "Response.error().headers.set('a', 'b')",
            "THROW TypeError TypeError: immutable",
        ),
        (
            "Response.prototype.text.call({})",
            "THROW TypeError TypeError: Illegal invocation",
        ),
    ]);
}

#[test]
fn bodies_are_read_once() {
    check_async(&[
        ("return await new Response('héllo').text()", "héllo"),
        (
            "return JSON.stringify(await new Response('{\"a\":[1]}').json())",
            "{\"a\":[1]}",
        ),
        (
            "const b = await new Response(new Uint8Array([1, 2, 3])).arrayBuffer(); return b instanceof ArrayBuffer && new Uint8Array(b).join()",
            "1,2,3",
        ),
        (
            "const b = await new Response('ab').bytes(); return b instanceof Uint8Array && b.join()",
            "97,98",
        ),
        (
            "return await new Response(new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0xff])).text()",
            "h\u{fffd}",
        ),
        ("return (await new Response(null).text()).length", "0"),
        (
            "const r = new Response('x'); await r.text(); return r.bodyUsed",
            "true",
        ),
        (
            "const r = new Response('x'); await r.text(); await r.text()",
            "THROW TypeError TypeError: Body is unusable: Body has already been read",
        ),
        (
            "await new Response('{oops').json()",
            "THROW SyntaxError SyntaxError: Expected property name or '}' in JSON at position 1 (line 1 column 2)",
        ),
        (
            "const r = new Response('x'); const c = r.clone(); return (await r.text()) + (await c.text())",
            "xx",
        ),
        (
            "const r = new Response('x'); await r.text(); r.clone()",
            "THROW TypeError TypeError: Response.clone: Body has already been consumed.",
        ),
        (
            "const src = new Uint8Array([65]); const r = new Response(src); src[0] = 66; return await r.text()",
            "A",
        ),
        (
            "await new Response('x').blob()",
            "THROW TypeError TypeError: Body.blob() is not supported: there is no Blob in this runtime",
        ),
    ]);
}

#[test]
fn requests_normalise_and_validate() {
    check(&[
        (
            "const r = new Request('https://h/a b', { method: 'post', headers: { A: '1' }, body: 'x' }); return [r.url, r.method, r.headers.get('a'), r.headers.get('content-type'), r.redirect, r.signal.aborted].join()",
            "https://h/a%20b,POST,1,text/plain;charset=UTF-8,follow,false",
        ),
        (
            "return new Request('https://h/', { method: 'patch' }).method",
            "patch",
        ),
        ("return new Request('https://h/').method", "GET"),
        (
            "const c = new AbortController(); const r = new Request('https://h/', { signal: c.signal }); c.abort('s'); return r.signal.aborted + ' ' + r.signal.reason",
            "true s",
        ),
        (
            "const r = new Request(new Request('https://h/', { method: 'PUT', body: 'b' })); return r.method + ' ' + r.url",
            "PUT https://h/",
        ),
        (
            "new Request('/relative')",
            "THROW TypeError TypeError: Failed to parse URL from /relative",
        ),
        (
            "new Request('https://u:p@h/')",
            "THROW TypeError TypeError: Request cannot be constructed from a URL that includes credentials: https://u:p@h/",
        ),
        (
            "new Request('https://h/', { method: 'GET', body: 'x' })",
            "THROW TypeError TypeError: Request with GET/HEAD method cannot have body.",
        ),
        (
            "new Request('https://h/', { method: 'CONNECT' })",
            "THROW TypeError TypeError: 'CONNECT' HTTP method is unsupported.",
        ),
        (
            "new Request('https://h/', { method: 'bad method' })",
            "THROW TypeError TypeError: 'bad method' is not a valid HTTP method.",
        ),
        (
            "new Request('https://h/', { redirect: 'sometimes' })",
            "THROW TypeError TypeError: Failed to construct 'Request': The provided value 'sometimes' is not a valid enum value of type RequestRedirect.",
        ),
        (
            "new Request('https://h/', { signal: {} })",
            "THROW TypeError TypeError: Failed to construct 'Request': member signal is not of type AbortSignal.",
        ),
    ]);
    check_async(&[
        (
            "return await new Request('https://h/', { method: 'POST', body: new URLSearchParams({ q: 'a b' }) }).text()",
            "q=a+b",
        ),
        (
            "const r = new Request('https://h/', { method: 'POST', body: '{\"n\":1}' }); const c = r.clone(); return (await r.json()).n + (await c.json()).n",
            "2",
        ),
    ]);
}

/// The hook `fetch` uses to build network responses (see `web/mod.rs`).
#[test]
fn make_response_hook_builds_network_responses() {
    check(&[
        (
            "const make = Response[Symbol.for('clockwork.makeResponse')]; const r = make(new Uint8Array([104, 105]).buffer, { status: 404, statusText: 'Not Found', headers: [['Content-Type', 'text/plain'], ['X-A', '1']], url: 'https://h/final', redirected: true }); return [r.status, r.statusText, r.ok, r.url, r.redirected, r.type, r.headers.get('x-a')].join()",
            "404,Not Found,false,https://h/final,true,basic,1",
        ),
        (
            "const make = Response[Symbol.for('clockwork.makeResponse')]; const r = make(new ArrayBuffer(0), { status: 204 }); return r.status + ' ' + r.ok",
            "204 true",
        ),
        (
            "const make = Response[Symbol.for('clockwork.makeResponse')]; make(null, { headers: { a: '1' } }).headers.set('a', '2')",
            "THROW TypeError TypeError: immutable",
        ),
        (
            "const make = Response[Symbol.for('clockwork.makeResponse')]; const r = make(null, {}); const c = r.clone(); return c.url + c.type + c.status",
            "basic200",
        ),
        (
            "const make = Response[Symbol.for('clockwork.makeResponse')]; make(null, { status: 42 })",
            "THROW RangeError RangeError: status 42 is not an HTTP status code",
        ),
        (
            "return Object.keys(Response).length + Object.getOwnPropertySymbols(Response).length",
            "1",
        ),
    ]);
    check_async(&[(
        "const make = Response[Symbol.for('clockwork.makeResponse')]; return await make(new Uint8Array([123, 125]), { status: 200 }).json().then(JSON.stringify)",
        "{}",
    )]);
}

/// `Request` is loaded on first use, maybe after the script replaced the
/// built-ins it is made with: it comes out whole, as it did when it was
/// loaded with `Headers` and `Response`. (What `Request` uses when called,
/// such as `Object.defineProperty` and array iteration, it looks up then.)
#[test]
fn request_loaded_after_the_script_spoiled_built_ins_is_whole() {
    check(&[(
        "Response; URL; AbortController;\n\
         const RealError = Error;\n\
         const spoiled = () => { throw new RealError('spoiled'); };\n\
         Object.keys = spoiled; Object.defineProperties = spoiled;\n\
         WeakSet.prototype.add = spoiled; Function.prototype.bind = spoiled;\n\
         globalThis.Set = spoiled; globalThis.Symbol = spoiled;\n\
         const r = new Request('https://a.test/x', { method: 'post', redirect: 'manual', headers: { A: '1' } });\n\
         return [r.method, r.redirect, r.headers.get('a'), typeof r.json, Object.prototype.toString.call(r), r.bodyUsed].join()",
        "POST,manual,1,function,[object Request],false",
    )]);
}
