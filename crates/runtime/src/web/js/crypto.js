// Clockwork web globals: `crypto` (Web Crypto's randomUUID and
// getRandomValues; no `subtle`). Random bytes come from the OS CSPRNG.
export default function makeCrypto(host, need) {
  const integerArrays = new Set([
    'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array',
    'Int32Array', 'Uint32Array', 'BigInt64Array', 'BigUint64Array',
  ]);
  const typedArrayTag = Object.getOwnPropertyDescriptor(
    Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag).get;

  class Crypto {
    constructor(key = undefined) {
      if (key !== secret) throw new TypeError('Illegal constructor');
    }
    randomUUID() {
      return host.randomUUID();
    }
    getRandomValues(array) {
      const kind = typedArrayTag.call(array);
      if (kind === undefined || !integerArrays.has(kind)) {
        throw new DOMException(
          "The data argument must be an integer-type TypedArray", 'TypeMismatchError');
      }
      if (array.byteLength > 65536) {
        throw new DOMException(
          `The ArrayBufferView's byte length (${array.byteLength}) exceeds the number of bytes of entropy available via this API (65536)`,
          'QuotaExceededError');
      }
      new Uint8Array(array.buffer, array.byteOffset, array.byteLength)
        .set(new Uint8Array(host.randomBytes(array.byteLength)));
      return array;
    }
    get [Symbol.toStringTag]() {
      return 'Crypto';
    }
  }
  const secret = {};
  const crypto = new Crypto(secret);
  // Let `const { randomUUID } = crypto` work as it does in Node.
  crypto.randomUUID = Crypto.prototype.randomUUID.bind(crypto);
  crypto.getRandomValues = Crypto.prototype.getRandomValues.bind(crypto);
  for (const name of ['randomUUID', 'getRandomValues']) {
    Object.defineProperty(crypto, name, { enumerable: false });
  }
  for (const klass of [Crypto]) host.classes.add(klass);
  return { crypto, Crypto };
}
