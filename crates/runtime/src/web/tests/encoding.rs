//! TextEncoder, TextDecoder, and QuickJS-ng's own atob/btoa.

use super::check::check;

#[test]
fn text_encoder_encodes_utf8() {
    check(&[
        (
            "return new TextEncoder().encode('hé€😀').join()",
            "104,195,169,226,130,172,240,159,152,128",
        ),
        ("return new TextEncoder().encode().length", "0"),
        (
            "return new TextEncoder().encode('\\ud800x').join()",
            "239,191,189,120",
        ),
        ("return new TextEncoder().encoding", "utf-8"),
        (
            "return new TextEncoder().encode('a') instanceof Uint8Array",
            "true",
        ),
        (
            "const d = new Uint8Array(4); const r = new TextEncoder().encodeInto('a€b', d); return [r.read, r.written, d.join()].join('|')",
            "2|4|97,226,130,172",
        ),
        (
            "const d = new Uint8Array(2); const r = new TextEncoder().encodeInto('😀', d); return [r.read, r.written].join()",
            "0,0",
        ),
        (
            "new TextEncoder().encodeInto('a', [])",
            "THROW TypeError TypeError: The \"dest\" argument must be an instance of Uint8Array.",
        ),
    ]);
}

#[test]
fn text_decoder_decodes_utf8() {
    check(&[
        (
            "return new TextDecoder().decode(new Uint8Array([104, 195, 169]))",
            "hé",
        ),
        (
            "return new TextDecoder().decode(new Uint8Array([104, 195, 169]).buffer)",
            "hé",
        ),
        (
            "return new TextDecoder().decode(new DataView(new Uint8Array([0, 65, 66]).buffer, 1))",
            "AB",
        ),
        ("return new TextDecoder().decode()", ""),
        (
            "return new TextDecoder().decode(new Uint8Array([0xff, 0x41, 0xe2, 0x82]))",
            "\u{fffd}A\u{fffd}",
        ),
        (
            "return new TextDecoder().decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x41])).length",
            "1",
        ),
        (
            "return new TextDecoder('utf-8', { ignoreBOM: true }).decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x41])).length",
            "2",
        ),
        (
            "const d = new TextDecoder(' UTF8 ', { fatal: true }); return [d.encoding, d.fatal, d.ignoreBOM].join()",
            "utf-8,true,false",
        ),
        (
            "new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array([0xc3]))",
            "THROW TypeError TypeError: The encoded data was not valid for encoding utf-8",
        ),
        (
            "new TextDecoder('latin1')",
            "THROW RangeError RangeError: The \"latin1\" encoding is not supported",
        ),
        (
            "new TextDecoder().decode('text')",
            "THROW TypeError TypeError: The \"input\" argument must be an instance of ArrayBuffer or ArrayBufferView.",
        ),
        // streaming keeps a split character for the next chunk
        (
            "const d = new TextDecoder(); const e = new Uint8Array([226, 130, 172]); return d.decode(e.subarray(0, 1), { stream: true }) + '|' + d.decode(e.subarray(1), { stream: true }) + '|' + d.decode()",
            "|€|",
        ),
        (
            "const d = new TextDecoder('utf-8', { fatal: true }); d.decode(new Uint8Array([0xe2]), { stream: true }); return d.decode()",
            "THROW TypeError TypeError: The encoded data was not valid for encoding utf-8",
        ),
        (
            "const d = new TextDecoder(); const bom = new Uint8Array([0xef, 0xbb, 0xbf]); return d.decode(bom, { stream: true }).length + ',' + d.decode(bom, { stream: true }).length",
            "0,1",
        ),
    ]);
}

/// atob, btoa and DOMException come from QuickJS-ng; these pin their behaviour.
#[test]
fn atob_and_btoa_follow_the_html_standard() {
    check(&[
        ("return atob('aGVsbG8=')", "hello"),
        ("return atob(' aGVs bG8 ')", "hello"),
        ("return btoa('hello')", "aGVsbG8="),
        ("return btoa('\\xff\\xfe')", "//4="),
        (
            "atob('a')",
            "THROW DOMException InvalidCharacterError: The string to be decoded is not correctly encoded",
        ),
        (
            "atob('@@@@')",
            "THROW DOMException InvalidCharacterError: The string to be decoded is not correctly encoded",
        ),
        (
            "btoa('€')",
            "THROW DOMException InvalidCharacterError: String contains an invalid character",
        ),
        (
            "try { btoa('€') } catch (e) { return e.code + ' ' + (e instanceof Error) }",
            "5 true",
        ),
        (
            "return typeof queueMicrotask + typeof DOMException + typeof performance.now",
            "functionfunctionfunction",
        ),
    ]);
}
