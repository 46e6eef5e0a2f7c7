// Clockwork web globals: `crypto` (Web Crypto's randomUUID, getRandomValues
// and a `subtle` with digest and raw HMAC keys: what webhook signature checks
// use). Random bytes come from the OS CSPRNG; hashes from Rust (`hashing.rs`).
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
    get subtle() {
      return subtle;
    }
    get [Symbol.toStringTag]() {
      return 'Crypto';
    }
  }

  const HASHES = { 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };

  function hashOf(algorithm) {
    const name = typeof algorithm === 'string' ? algorithm : algorithm && algorithm.name;
    const hash = HASHES[String(name).toUpperCase()];
    if (hash === undefined) {
      throw new DOMException(`Unrecognized algorithm name: ${name}`, 'NotSupportedError');
    }
    return hash;
  }

  function bytesOf(data, what) {
    if (data instanceof ArrayBuffer) return new Uint8Array(data);
    if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    throw new TypeError(`${what} must be an ArrayBuffer or a view of one (use new TextEncoder().encode(text))`);
  }

  const keyBytes = new WeakMap();

  class CryptoKey {
    constructor(key = undefined) {
      if (key !== secret) throw new TypeError('Illegal constructor');
    }
    get [Symbol.toStringTag]() {
      return 'CryptoKey';
    }
  }

  function hmacKey(key, usage) {
    const bytes = keyBytes.get(key);
    if (bytes === undefined) throw new TypeError('key must be a CryptoKey from crypto.subtle.importKey');
    if (!key.usages.includes(usage)) {
      throw new DOMException(`key usages do not include '${usage}'`, 'InvalidAccessError');
    }
    return bytes;
  }

  const detached = (bytes) => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);

  class SubtleCrypto {
    constructor(key = undefined) {
      if (key !== secret) throw new TypeError('Illegal constructor');
    }
    async digest(algorithm, data) {
      return host.digest(hashOf(algorithm), bytesOf(data, 'data'));
    }
    async importKey(format, keyData, algorithm, extractable, usages) {
      const name = typeof algorithm === 'string' ? algorithm : algorithm && algorithm.name;
      if (format !== 'raw' || String(name).toUpperCase() !== 'HMAC') {
        throw new DOMException(
          `Clockwork's subtle imports 'raw' HMAC keys only, not '${format}' ${name} keys`,
          'NotSupportedError');
      }
      const hash = hashOf(algorithm.hash);
      const bytes = bytesOf(keyData, 'keyData').slice();
      const key = new CryptoKey(secret);
      Object.defineProperties(key, {
        type: { value: 'secret', enumerable: true },
        extractable: { value: Boolean(extractable), enumerable: true },
        algorithm: {
          value: Object.freeze({ name: 'HMAC', hash: Object.freeze({ name: Object.keys(HASHES).find((k) => HASHES[k] === hash) }), length: bytes.length * 8 }),
          enumerable: true,
        },
        usages: { value: Object.freeze(Array.from(usages || [], String)), enumerable: true },
      });
      keyBytes.set(key, { bytes, hash });
      return key;
    }
    async exportKey(format, key) {
      const entry = keyBytes.get(key);
      if (format !== 'raw' || entry === undefined || !key.extractable) {
        throw new DOMException('the key cannot be exported in this format', 'InvalidAccessError');
      }
      return detached(entry.bytes);
    }
    async sign(algorithm, key, data) {
      const { bytes, hash } = hmacKey(key, 'sign');
      return host.hmac(hash, bytes, bytesOf(data, 'data'));
    }
    async verify(algorithm, key, signature, data) {
      const { bytes, hash } = hmacKey(key, 'verify');
      const expected = new Uint8Array(host.hmac(hash, bytes, bytesOf(data, 'data')));
      const given = bytesOf(signature, 'signature');
      if (expected.length !== given.length) return false;
      let difference = 0;
      for (let i = 0; i < given.length; i++) difference |= expected[i] ^ given[i];
      return difference === 0;
    }
    get [Symbol.toStringTag]() {
      return 'SubtleCrypto';
    }
  }

  const secret = {};
  const subtle = new SubtleCrypto(secret);
  const crypto = new Crypto(secret);
  // Let `const { randomUUID } = crypto` work as it does in Node.
  crypto.randomUUID = Crypto.prototype.randomUUID.bind(crypto);
  crypto.getRandomValues = Crypto.prototype.getRandomValues.bind(crypto);
  for (const name of ['randomUUID', 'getRandomValues']) {
    Object.defineProperty(crypto, name, { enumerable: false });
  }
  for (const klass of [Crypto, SubtleCrypto, CryptoKey]) host.classes.add(klass);
  return { crypto, Crypto, SubtleCrypto, CryptoKey };
}
