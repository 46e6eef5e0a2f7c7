//! `console.log` formatting against the output of Node 20 (`util.format` +
//! `util.inspect`), written from Node's documented and observed behaviour.

use super::harness::{log, with_web};

/// (arguments as JavaScript source, exact Node output)
const CASES: &[(&str, &str)] = &[
    // primitives and util.format joining
    ("'hello'", "hello"),
    ("'a', 'b'", "a b"),
    ("'x', 1, true, null, undefined", "x 1 true null undefined"),
    ("-0", "-0"),
    ("[-0, 0]", "[ -0, 0 ]"),
    ("1n", "1n"),
    ("[1.5, -2, NaN, Infinity]", "[ 1.5, -2, NaN, Infinity ]"),
    ("Symbol('x')", "Symbol(x)"),
    ("Symbol()", "Symbol()"),
    ("null", "null"),
    ("undefined", "undefined"),
    ("{ a: 1 }, 'x', [2]", "{ a: 1 } x [ 2 ]"),
    // format specifiers
    ("'%s is %d', 'x', 42", "x is 42"),
    ("'%s', 'a', 'b'", "a b"),
    ("'%s %s', 'a'", "a %s"),
    ("'%s'", "%s"),
    ("'%s', 1.5", "1.5"),
    ("'%s', -0", "-0"),
    ("'%s', 5n", "5n"),
    ("'%s', Symbol('s')", "Symbol(s)"),
    ("'%s', null", "null"),
    ("'%s', undefined", "undefined"),
    ("'%s', { a: { b: 1 } }", "{ a: [Object] }"),
    ("'%s', [1, [2]]", "[ 1, [Array] ]"),
    (
        "'%s', new (class Foo { toString() { return 'FOO' } })()",
        "FOO",
    ),
    ("'%s', { toString() { return 'own' } }", "own"),
    ("'%d', '42'", "42"),
    ("'%d', {}", "NaN"),
    ("'%d', 5n", "5n"),
    ("'%d', -0", "-0"),
    ("'%i', 42.9", "42"),
    ("'%i', '0x10'", "16"),
    ("'%f', '1.5'", "1.5"),
    ("'%f', Symbol()", "NaN"),
    ("'%j', { a: 1, b: 'x' }", "{\"a\":1,\"b\":\"x\"}"),
    (
        "'%j', (() => { const o = {}; o.o = o; return o; })()",
        "[Circular]",
    ),
    ("'%j', undefined", "undefined"),
    (
        "'%O', { a: { b: { c: { d: 1 } } } }",
        "{ a: { b: { c: [Object] } } }",
    ),
    ("'%o', [1]", "[ 1, [length]: 1 ]"),
    (
        "'%o', { a: { b: { c: { d: {} } } } }",
        "{\n  a: { b: { c: { d: {} } } }\n}",
    ),
    ("'%c styled', 'color: red'", " styled"),
    ("'100%'", "100%"),
    ("'100%%'", "100%%"),
    ("'%% %s', 'a'", "% a"),
    ("'%x', 1", "%x 1"),
    ("'%s', 'a', { b: 1 }", "a { b: 1 }"),
    ("'a%', 1", "a% 1"),
    // objects and arrays
    ("{ a: 1, b: [1, 2] }", "{ a: 1, b: [ 1, 2 ] }"),
    ("{ a: 'x' }", "{ a: 'x' }"),
    ("['a']", "[ 'a' ]"),
    ("{}", "{}"),
    ("[]", "[]"),
    (
        "{ a: { b: { c: { d: 1 } } } }",
        "{ a: { b: { c: [Object] } } }",
    ),
    ("{ a: { b: { c: [1] } } }", "{ a: { b: { c: [Array] } } }"),
    ("{ a: { b: { c: {} } } }", "{ a: { b: { c: {} } } }"),
    ("[[[[1]]]]", "[ [ [ [Array] ] ] ]"),
    (
        "{ a: { b: { c: new Map([[1, 2]]) } } }",
        "{ a: { b: { c: [Map] } } }",
    ),
    (
        "{ a: { b: { c: new (class Foo { constructor() { this.x = 1 } })() } } }",
        "{ a: { b: { c: [Foo] } } }",
    ),
    (
        "{ 'a-b': 1, a_b: 2, '1': 3, $x: 4, 'key with space': 5 }",
        "{ '1': 3, 'a-b': 1, a_b: 2, '$x': 4, 'key with space': 5 }",
    ),
    ("{ ['__proto__']: 1 }", "{ ['__proto__']: 1 }"),
    ("{ [Symbol('s')]: 1 }", "{ [Symbol(s)]: 1 }"),
    (
        "{ get g() { return 1 }, set s(v) {}, get gs() { return 1 }, set gs(v) {} }",
        "{ g: [Getter], s: [Setter], gs: [Getter/Setter] }",
    ),
    ("Object.create(null)", "[Object: null prototype] {}"),
    (
        "{ __proto__: null, x: 1 }",
        "[Object: null prototype] { x: 1 }",
    ),
    (
        "new (class Foo { constructor() { this.x = 1 } })()",
        "Foo { x: 1 }",
    ),
    ("new (class Bar {})()", "Bar {}"),
    (
        "new (class Foo { get [Symbol.toStringTag]() { return 'Tag' } })()",
        "Foo [Tag] {}",
    ),
    ("[1, , 3]", "[ 1, <1 empty item>, 3 ]"),
    ("new Array(3)", "[ <3 empty items> ]"),
    ("Object.assign([1], { x: 2 })", "[ 1, x: 2 ]"),
    (
        "(function () { return arguments })(1, 2)",
        "[Arguments] { '0': 1, '1': 2 }",
    ),
    // strings inside structures
    ("[\"it's\"]", "[ \"it's\" ]"),
    ("['say \"hi\"']", "[ 'say \"hi\"' ]"),
    ("[\"it's \\\"x\\\"\"]", "[ `it's \"x\"` ]"),
    ("[\"it's \\\"q\\\" `b`\"]", "[ 'it\\'s \"q\" `b`' ]"),
    ("['a\\nb']", "[ 'a\\nb' ]"),
    ("['\\x01\\t\\\\']", "[ '\\x01\\t\\\\' ]"),
    // functions and classes
    ("function foo() {}", "[Function: foo]"),
    ("() => {}", "[Function (anonymous)]"),
    ("class A {}", "[class A]"),
    (
        "(() => { class A {} return class B extends A {} })()",
        "[class B extends A]",
    ),
    ("class S { static x = 1 }", "[class S] { x: 1 }"),
    ("async function af() {}", "[AsyncFunction: af]"),
    ("function* g() {}", "[GeneratorFunction: g]"),
    ("async function* ag() {}", "[AsyncGeneratorFunction: ag]"),
    ("(function g() {}).bind(null)", "[Function: bound g]"),
    (
        "Object.assign(function f() {}, { x: 1 })",
        "[Function: f] { x: 1 }",
    ),
    ("{ f() {} }", "{ f: [Function: f] }"),
    // built-in object types
    ("new Date(0)", "1970-01-01T00:00:00.000Z"),
    ("{ d: new Date(0) }", "{ d: 1970-01-01T00:00:00.000Z }"),
    ("new Date(NaN)", "Invalid Date"),
    ("/ab+c/gi", "/ab+c/gi"),
    ("new Map([['a', 1]])", "Map(1) { 'a' => 1 }"),
    ("new Map([[{ a: 1 }, [1]]])", "Map(1) { { a: 1 } => [ 1 ] }"),
    ("new Map()", "Map(0) {}"),
    ("new Set([1, 2])", "Set(2) { 1, 2 }"),
    ("new Set(['a'])", "Set(1) { 'a' }"),
    ("new Set()", "Set(0) {}"),
    ("new Uint8Array([1, 2, 3])", "Uint8Array(3) [ 1, 2, 3 ]"),
    ("new Float64Array(0)", "Float64Array(0) []"),
    ("new BigInt64Array([1n])", "BigInt64Array(1) [ 1n ]"),
    (
        "new Uint8Array([1, 2]).buffer",
        "ArrayBuffer { [Uint8Contents]: <01 02>, byteLength: 2 }",
    ),
    (
        "new DataView(new ArrayBuffer(2))",
        "DataView {\n  byteLength: 2,\n  byteOffset: 0,\n  buffer: ArrayBuffer { [Uint8Contents]: <00 00>, byteLength: 2 }\n}",
    ),
    ("new Number(3)", "[Number: 3]"),
    ("new String('ab')", "[String: 'ab']"),
    ("new Boolean(false)", "[Boolean: false]"),
    ("Object(1n)", "[BigInt: 1n]"),
    ("Object(Symbol('q'))", "[Symbol: Symbol(q)]"),
    ("Promise.resolve(4)", "Promise { 4 }"),
    ("new Promise(() => {})", "Promise { <pending> }"),
    (
        "(() => { const p = Promise.reject(3); p.catch(() => {}); return p; })()",
        "Promise { <rejected> 3 }",
    ),
    ("new WeakMap()", "WeakMap { <items unknown> }"),
    ("new WeakSet()", "WeakSet { <items unknown> }"),
    // cycles
    (
        "(() => { const o = { name: 'o' }; o.self = o; return o; })()",
        "<ref *1> { name: 'o', self: [Circular *1] }",
    ),
    (
        "(() => { const a = {}; a.b = { a }; return a; })()",
        "<ref *1> { b: { a: [Circular *1] } }",
    ),
    (
        "(() => { const a = [1]; a.push(a); return a; })()",
        "<ref *1> [ 1, [Circular *1] ]",
    ),
    // hooks and proxies
    (
        "{ [Symbol.for('nodejs.util.inspect.custom')]() { return 'CUSTOM' } }",
        "CUSTOM",
    ),
    (
        "new Proxy({ a: 1 }, { get() { throw new Error('trap') }, ownKeys() { throw new Error('trap') } })",
        "{ a: 1 }",
    ),
    // line breaking at breakLength 80
    (
        "{ a: 'xxxxxxxxxxxxxxxxxxxxxxxxxxx', b: 'yyyyyyyyyyyyyyyyyyyyyyyyyyy' }",
        "{ a: 'xxxxxxxxxxxxxxxxxxxxxxxxxxx', b: 'yyyyyyyyyyyyyyyyyyyyyyyyyyy' }",
    ),
    (
        "{ a: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxx', b: 'yyyyyyyyyyyyyyyyyyyyyyyyyyyy' }",
        "{\n  a: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxx',\n  b: 'yyyyyyyyyyyyyyyyyyyyyyyyyyyy'\n}",
    ),
    (
        "{ alpha: 'aaaaaaaaaaaaaaaa', beta: 'bbbbbbbbbbbbbbbb', gamma: 'cccccccccccccccc', delta: 'd' }",
        "{\n  alpha: 'aaaaaaaaaaaaaaaa',\n  beta: 'bbbbbbbbbbbbbbbb',\n  gamma: 'cccccccccccccccc',\n  delta: 'd'\n}",
    ),
    (
        "{ outer: { alpha: 'aaaaaaaaaaaaaaaa', beta: 'bbbbbbbbbbbbbbbb', gamma: 'cccccccccccccccc' } }",
        "{\n  outer: {\n    alpha: 'aaaaaaaaaaaaaaaa',\n    beta: 'bbbbbbbbbbbbbbbb',\n    gamma: 'cccccccccccccccc'\n  }\n}",
    ),
    // array grouping
    ("[1, 2, 3, 4, 5, 6]", "[ 1, 2, 3, 4, 5, 6 ]"),
    ("[1, 2, 3, 4, 5, 6, 7]", "[\n  1, 2, 3, 4,\n  5, 6, 7\n]"),
    (
        "Array.from({ length: 26 }, (_, i) => String.fromCharCode(97 + i))",
        "[\n  'a', 'b', 'c', 'd', 'e', 'f',\n  'g', 'h', 'i', 'j', 'k', 'l',\n  'm', 'n', 'o', 'p', 'q', 'r',\n  's', 't', 'u', 'v', 'w', 'x',\n  'y', 'z'\n]",
    ),
    (
        "Array.from({ length: 12 }, (_, i) => i * 10)",
        "[\n    0,  10, 20, 30, 40,\n   50,  60, 70, 80, 90,\n  100, 110\n]",
    ),
    // web globals
    ("URL", "[class URL]"),
    (
        "(() => { const p = Proxy.revocable({}, {}); p.revoke(); return p.proxy })()",
        "<Revoked Proxy>",
    ),
    (
        "new AbortController()",
        "AbortController { signal: AbortSignal { aborted: false } }",
    ),
    (
        "new Response(null, { status: 204 })",
        "Response {\n  status: 204,\n  statusText: '',\n  headers: Headers {},\n  bodyUsed: false,\n  ok: true,\n  redirected: false,\n  type: 'default',\n  url: ''\n}",
    ),
    (
        "{ r: Response.error() }",
        "{\n  r: Response {\n    status: 0,\n    statusText: '',\n    headers: Headers {},\n    bodyUsed: false,\n    ok: false,\n    redirected: false,\n    type: 'error',\n    url: ''\n  }\n}",
    ),
    (
        "new Intl.NumberFormat()",
        "NumberFormat [Intl.NumberFormat] {}",
    ),
    ("Headers", "[class Headers]"),
    ("AbortSignal", "[class AbortSignal extends EventTarget]"),
    ("structuredClone", "[Function: structuredClone]"),
    (
        "new URLSearchParams('a=1&b=2')",
        "URLSearchParams { 'a' => '1', 'b' => '2' }",
    ),
    ("new URLSearchParams()", "URLSearchParams {}"),
    (
        "new Headers({ b: '2', a: '1' })",
        "Headers { a: '1', b: '2' }",
    ),
    (
        "new URL('https://example.com/a?b=1')",
        "URL {\n  href: 'https://example.com/a?b=1',\n  origin: 'https://example.com',\n  protocol: 'https:',\n  username: '',\n  password: '',\n  host: 'example.com',\n  hostname: 'example.com',\n  port: '',\n  pathname: '/a',\n  search: '?b=1',\n  searchParams: URLSearchParams { 'b' => '1' },\n  hash: ''\n}",
    ),
];

#[test]
fn console_formatting_matches_node() {
    with_web(|ctx| {
        let mut failures = Vec::new();
        for (args, expected) in CASES {
            let actual = log(ctx, args);
            if actual != *expected {
                failures.push(format!(
                    "console.log({args})\n  expected: {expected:?}\n  actual:   {actual:?}"
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} cases differ:\n{}",
            failures.len(),
            CASES.len(),
            failures.join("\n")
        );
    });
}

/// Errors print their stack (QuickJS-ng's frames under Node's `Name: message`
/// head); frames name the evaluated script, so only their shape is checked.
#[test]
fn errors_print_with_stack_and_extra_properties() {
    with_web(|ctx| {
        let plain = log(ctx, "new Error('boom')");
        assert!(plain.starts_with("Error: boom\n    at "), "{plain:?}");

        let typed = log(ctx, "new TypeError('t')");
        assert!(typed.starts_with("TypeError: t\n    at "), "{typed:?}");

        let subclass = log(ctx, "new (class MyError extends Error {})('bad')");
        assert!(
            subclass.starts_with("MyError: bad\n    at "),
            "{subclass:?}"
        );

        let extra = log(ctx, "Object.assign(new Error('boom'), { code: 'E1' })");
        assert!(extra.starts_with("Error: boom\n    at "), "{extra:?}");
        assert!(extra.ends_with(" {\n  code: 'E1'\n}"), "{extra:?}");

        let cause = log(ctx, "new Error('a', { cause: 'b' })");
        assert!(cause.ends_with(" {\n  [cause]: 'b'\n}"), "{cause:?}");

        let nested = log(ctx, "{ e: new Error('x') }");
        assert!(
            nested.starts_with("{\n  e: Error: x\n      at "),
            "{nested:?}"
        );
        assert!(nested.ends_with("\n}"), "{nested:?}");

        let frameless = log(
            ctx,
            "(() => { const e = new RangeError('m'); e.stack = ''; return e; })()",
        );
        assert_eq!(frameless, "[RangeError: m]");

        let in_format = log(ctx, "'failed: %s', new Error('deep')");
        assert!(
            in_format.starts_with("failed: Error: deep\n    at "),
            "{in_format:?}"
        );

        let dom = log(ctx, "new DOMException('gone', 'AbortError')");
        assert!(
            dom.starts_with("DOMException [AbortError]: gone"),
            "{dom:?}"
        );
    });
}

#[test]
fn long_arrays_are_cut_at_one_hundred_items() {
    with_web(|ctx| {
        let row = "0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0";
        let expected = format!(
            "[\n{}  0, 0, 0, 0,\n  ... 50 more items\n]",
            format!("  {row},\n").repeat(8)
        );
        assert_eq!(log(ctx, "new Array(150).fill(0)"), expected);
        let set = log(ctx, "new Set(Array.from({ length: 101 }, (_, i) => i))");
        assert!(set.ends_with("  99,\n  ... 1 more item\n}"), "{set:?}");
    });
}

/// A hole's length comes from the array's own keys, not from a walk index
/// by index, which for `a.length = 2 ** 32 - 1` would take minutes. The
/// expected texts are Node 20's.
#[test]
fn huge_sparse_arrays_print_their_holes_at_once() {
    with_web(|ctx| {
        let sparse = |fill: &str| {
            format!("(() => {{ const a = [];{fill} a.length = 2 ** 32 - 1; return a; }})()")
        };
        assert_eq!(log(ctx, &sparse("")), "[ <4294967295 empty items> ]");
        assert_eq!(
            log(ctx, &sparse(" a[7] = 1; a[200] = 2;")),
            "[ <7 empty items>, 1, <192 empty items>, 2, <4294967094 empty items> ]"
        );
        assert_eq!(
            log(ctx, &sparse(" a.push(1, 2);")),
            "[ 1, 2, <4294967293 empty items> ]"
        );
        // Holes just under, at and past the length looked at one by one.
        for gap in [63, 64, 65, 100] {
            let array = format!(
                "(() => {{ const a = [1]; a[{}] = 2; return a; }})()",
                gap + 1
            );
            assert_eq!(log(ctx, &array), format!("[ 1, <{gap} empty items>, 2 ]"));
        }
    });
}

#[test]
fn strings_at_top_level_are_raw_and_long_strings_are_kept_whole() {
    with_web(|ctx| {
        let long = "x".repeat(200);
        assert_eq!(log(ctx, &format!("'{long}'")), long);
        assert_eq!(
            log(ctx, &format!("['{long}']")),
            format!("[\n  '{long}'\n]")
        );
        let lines = log(
            ctx,
            &format!("{{ text: 'first line {}\\nsecond' }}", "y".repeat(70)),
        );
        assert_eq!(
            lines,
            format!(
                "{{\n  text: 'first line {}\\n' +\n    'second'\n}}",
                "y".repeat(70)
            )
        );
    });
}

/// Whatever a script does, formatting returns a string: a throwing custom
/// inspector falls back to `String(value)` and leaves no pending exception.
#[test]
fn hostile_values_fall_back_without_failing() {
    with_web(|ctx| {
        let text = log(
            ctx,
            "{ [Symbol.for('nodejs.util.inspect.custom')]() { throw new Error('no') } }",
        );
        assert_eq!(text, "[object Object]");
        let unprintable = log(
            ctx,
            "{ __proto__: null, [Symbol.for('nodejs.util.inspect.custom')]() { throw new Error('no') } }",
        );
        assert_eq!(unprintable, "[object]");
        assert_eq!(super::harness::eval(ctx, "return 1 + 1"), "2");
    });
}

#[test]
fn formatting_works_before_install_with_plain_strings() {
    let runtime = rquickjs::Runtime::new().expect("runtime");
    let context = rquickjs::Context::full(&runtime).expect("context");
    context.with(|ctx| {
        let values: rquickjs::Array<'_> = ctx.eval("['n =', 1, { a: 1 }]").expect("values");
        let values: Vec<rquickjs::Value<'_>> = values
            .iter()
            .collect::<rquickjs::Result<_>>()
            .expect("values");
        assert_eq!(
            super::super::format_console_args(&ctx, &values),
            "n = 1 [object Object]"
        );
    });
}

/// Lone surrogates cannot be UTF-8: they print as U+FFFD, as Node's stdout does.
#[test]
fn lone_surrogates_become_replacement_characters() {
    with_web(|ctx| {
        assert_eq!(log(ctx, "'a\\ud800b'"), "a\u{fffd}b");
        assert_eq!(log(ctx, "'x', 'a\\udc00'"), "x a\u{fffd}");
        assert_eq!(log(ctx, "['\\ud800']"), "[ '\\ud800' ]");
    });
}
