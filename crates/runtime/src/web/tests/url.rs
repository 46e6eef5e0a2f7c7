//! URL and URLSearchParams (WHATWG semantics from the `url` crate).

use super::check::check;

#[test]
fn url_parses_and_serialises_like_the_standard() {
    check(&[
        (
            "const u = new URL('HTTPS://User:Pw@Example.COM:443/a/../b/./c?q=1 2#frag'); return [u.href, u.origin, u.protocol, u.username, u.password, u.host, u.hostname, u.port, u.pathname, u.search, u.hash].join('|')",
            "https://User:Pw@example.com/b/c?q=1%202#frag|https://example.com|https:|User|Pw|example.com|example.com||/b/c|?q=1%202|#frag",
        ),
        (
            "return new URL('/rest/api/3/issue?x=1', 'https://site.atlassian.net/wiki/').href",
            "https://site.atlassian.net/rest/api/3/issue?x=1",
        ),
        (
            "return new URL('../up', 'https://h/a/b/c').href",
            "https://h/a/up",
        ),
        ("return new URL('https://h:8080/').port", "8080"),
        ("return new URL('http://h:80/').host", "h"),
        (
            "return new URL('https://münchen.de/').hostname",
            "xn--mnchen-3ya.de",
        ),
        (
            "return new URL('https://h/ä?ö#ü').href",
            "https://h/%C3%A4?%C3%B6#%C3%BC",
        ),
        ("return new URL('  https://h/\\t\\n ').href", "https://h/"),
        ("return new URL('mailto:a@b.c').pathname", "a@b.c"),
        ("return new URL('file:///tmp/x').origin", "null"),
        ("return String(new URL('https://h/p'))", "https://h/p"),
        (
            "return JSON.stringify({ u: new URL('https://h/p') })",
            "{\"u\":\"https://h/p\"}",
        ),
        (
            "return URL.canParse('https://h') + ' ' + URL.canParse('nope') + ' ' + URL.canParse('/x', 'https://h')",
            "true false true",
        ),
        (
            "return URL.parse('nope') === null && URL.parse('https://h/').href",
            "https://h/",
        ),
        (
            "return Object.prototype.toString.call(new URL('https://h'))",
            "[object URL]",
        ),
    ]);
}

#[test]
fn url_setters_follow_the_standard() {
    check(&[
        (
            "const u = new URL('https://h/p'); u.pathname = '/a b'; return u.href",
            "https://h/a%20b",
        ),
        (
            "const u = new URL('https://h/p'); u.search = 'x=1'; return u.href",
            "https://h/p?x=1",
        ),
        (
            "const u = new URL('https://h/p?x=1'); u.search = ''; return u.href",
            "https://h/p",
        ),
        (
            "const u = new URL('https://h/p'); u.hash = 'top'; return u.href",
            "https://h/p#top",
        ),
        (
            "const u = new URL('https://h/p'); u.port = '8443'; u.hostname = 'k'; return u.href",
            "https://k:8443/p",
        ),
        (
            "const u = new URL('https://h/p'); u.port = 'nope'; return u.href",
            "https://h/p",
        ),
        (
            "const u = new URL('https://h/p'); u.protocol = 'http'; return u.href",
            "http://h/p",
        ),
        (
            "const u = new URL('https://h/p'); u.username = 'me'; u.password = 's'; return u.href",
            "https://me:s@h/p",
        ),
        (
            "const u = new URL('https://h/p'); u.href = 'https://other/'; return u.host",
            "other",
        ),
        (
            "const u = new URL('https://h/p'); try { u.href = 'nope'; } catch (e) { return e.constructor.name + ' ' + u.href; }",
            "TypeError https://h/p",
        ),
    ]);
}

#[test]
fn url_errors_are_type_errors() {
    check(&[
        (
            "new URL('nope')",
            "THROW TypeError TypeError: Invalid URL: nope",
        ),
        (
            "new URL('/relative')",
            "THROW TypeError TypeError: Invalid URL: /relative",
        ),
        (
            "new URL('x', 'not a base')",
            "THROW TypeError TypeError: Invalid URL: x",
        ),
        (
            "try { new URL('nope') } catch (e) { return e.code + ' ' + e.input }",
            "ERR_INVALID_URL nope",
        ),
        (
            "new URL()",
            "THROW TypeError TypeError: Failed to execute 'URL': 1 argument required, but only 0 present.",
        ),
        (
            "new URL('http://[::1')",
            "THROW TypeError TypeError: Invalid URL: http://[::1",
        ),
    ]);
}

#[test]
fn search_params_parse_serialise_and_mutate() {
    check(&[
        (
            "return new URLSearchParams('?a=1&b=x+y&c=%C3%A4&a=2').toString()",
            "a=1&b=x+y&c=%C3%A4&a=2",
        ),
        (
            "const p = new URLSearchParams('a=1&b=x+y&a=2'); return [p.get('a'), p.get('b'), p.get('z'), p.getAll('a').join(), p.has('b'), p.has('a', '2'), p.size].join('|')",
            "1|x y||1,2|true|true|3",
        ),
        (
            "return new URLSearchParams({ q: 'a b', n: 1 }).toString()",
            "q=a+b&n=1",
        ),
        (
            "return new URLSearchParams([['x', '1'], ['x', '2']]).toString()",
            "x=1&x=2",
        ),
        (
            "return new URLSearchParams(new Map([['k', 'v']])).toString()",
            "k=v",
        ),
        (
            "const p = new URLSearchParams('a=1&b=2&a=3'); p.set('a', '9'); return p.toString()",
            "a=9&b=2",
        ),
        (
            "const p = new URLSearchParams('a=1&b=2&a=3'); p.delete('a'); return p.toString()",
            "b=2",
        ),
        (
            "const p = new URLSearchParams('a=1&a=2'); p.delete('a', '2'); return p.toString()",
            "a=1",
        ),
        (
            "const p = new URLSearchParams('c=3&a=2&b=1&a=1'); p.sort(); return p.toString()",
            "a=2&a=1&b=1&c=3",
        ),
        (
            "const p = new URLSearchParams(); p.append('e', '&=?/ é'); return p.toString()",
            "e=%26%3D%3F%2F+%C3%A9",
        ),
        (
            "return [...new URLSearchParams('a=1&b=2')].map(([k, v]) => k + v).join()",
            "a1,b2",
        ),
        (
            "return [...new URLSearchParams('a=1&b=2').keys()].join() + [...new URLSearchParams('a=1&b=2').values()].join()",
            "a,b1,2",
        ),
        (
            "const out = []; new URLSearchParams('a=1&b=2').forEach((v, k) => out.push(k + '=' + v)); return out.join()",
            "a=1,b=2",
        ),
    ]);
}

#[test]
fn search_params_stay_in_sync_with_their_url() {
    check(&[
        (
            "const u = new URL('https://h/p?a=1'); u.searchParams.append('b', 'x y'); return u.href",
            "https://h/p?a=1&b=x+y",
        ),
        (
            "const u = new URL('https://h/p?a=1'); u.searchParams.delete('a'); return u.href",
            "https://h/p",
        ),
        (
            "const u = new URL('https://h/p?a=1'); const p = u.searchParams; u.search = '?z=9'; return p.get('z') + p.has('a')",
            "9false",
        ),
        (
            "const u = new URL('https://h/p'); return u.searchParams === u.searchParams",
            "true",
        ),
    ]);
}

#[test]
fn search_params_errors() {
    check(&[
        (
            "new URLSearchParams([['a']])",
            "THROW TypeError TypeError: Failed to construct 'URLSearchParams': Each query pair must be an iterable [name, value] tuple",
        ),
        (
            "new URLSearchParams().append('a')",
            "THROW TypeError TypeError: Failed to execute 'URLSearchParams.append': 2 arguments required, but only 1 present.",
        ),
        (
            "new URLSearchParams().forEach(1)",
            "THROW TypeError TypeError: Failed to execute 'forEach' on 'URLSearchParams': parameter 1 is not of type 'Function'.",
        ),
    ]);
}
