// Clockwork web globals: TextEncoder and TextDecoder (WHATWG Encoding
// Standard, UTF-8 only). The byte work is Rust's (host.utf8*).
export default function makeEncoding(host, need) {
  const customInspect = Symbol.for('nodejs.util.inspect.custom');

  function bytesOf(input, what) {
    if (input instanceof ArrayBuffer || (typeof SharedArrayBuffer === 'function' && input instanceof SharedArrayBuffer)) {
      return new Uint8Array(input);
    }
    if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    throw new TypeError(`The "${what}" argument must be an instance of ArrayBuffer or ArrayBufferView.`);
  }

  class TextEncoder {
    get encoding() {
      return 'utf-8';
    }
    encode(input = '') {
      return new Uint8Array(host.utf8Encode(String(input).toWellFormed()));
    }
    encodeInto(source, destination) {
      if (!(destination instanceof Uint8Array)) {
        throw new TypeError('The "dest" argument must be an instance of Uint8Array.');
      }
      const [read, bytes] = host.utf8EncodeInto(String(source).toWellFormed(), destination.length);
      const written = new Uint8Array(bytes);
      destination.set(written);
      return { read, written: written.length };
    }
    get [Symbol.toStringTag]() {
      return 'TextEncoder';
    }
    [customInspect]() {
      return "TextEncoder { encoding: 'utf-8' }";
    }
  }

  const utf8Labels = new Set(['utf-8', 'utf8', 'unicode-1-1-utf-8', 'unicode11utf8', 'unicode20utf8', 'x-unicode20utf8']);

  // Length of the incomplete UTF-8 sequence at the end of `bytes` (0–3).
  function incompleteTail(bytes) {
    const end = bytes.length;
    for (let back = 1; back <= Math.min(3, end); back++) {
      const byte = bytes[end - back];
      if ((byte & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
      const needed = byte >= 0xf0 && byte <= 0xf4 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc2 && byte < 0xe0 ? 2 : 1;
      return needed > back ? back : 0;
    }
    return 0;
  }

  class TextDecoder {
    #fatal;
    #ignoreBOM;
    #pending = null;
    #started = false;

    constructor(label = 'utf-8', options = undefined) {
      const normalized = String(label).trim().toLowerCase();
      if (!utf8Labels.has(normalized)) {
        throw new RangeError(`The "${label}" encoding is not supported`);
      }
      if (options !== undefined && options !== null && typeof options !== 'object') {
        throw new TypeError('The "options" argument must be of type object.');
      }
      this.#fatal = Boolean(options?.fatal);
      this.#ignoreBOM = Boolean(options?.ignoreBOM);
    }
    get encoding() {
      return 'utf-8';
    }
    get fatal() {
      return this.#fatal;
    }
    get ignoreBOM() {
      return this.#ignoreBOM;
    }
    decode(input = undefined, options = undefined) {
      let bytes = input === undefined ? new Uint8Array(0) : bytesOf(input, 'input');
      const stream = Boolean(options?.stream);
      if (this.#pending !== null) {
        const joined = new Uint8Array(this.#pending.length + bytes.length);
        joined.set(this.#pending);
        joined.set(bytes, this.#pending.length);
        bytes = joined;
        this.#pending = null;
      }
      if (stream) {
        const tail = incompleteTail(bytes);
        if (tail > 0) {
          this.#pending = bytes.slice(bytes.length - tail);
          bytes = bytes.subarray(0, bytes.length - tail);
        }
      }
      // The BOM is only stripped at the start of a stream.
      const text = host.utf8Decode(bytes, this.#fatal, this.#ignoreBOM || this.#started);
      if (stream) {
        if (bytes.length > 0) this.#started = true;
      } else {
        this.#started = false;
        this.#pending = null;
      }
      return text;
    }
    get [Symbol.toStringTag]() {
      return 'TextDecoder';
    }
  }

  for (const klass of [TextEncoder, TextDecoder]) host.classes.add(klass);
  return { TextEncoder, TextDecoder, bytesOf };
}
