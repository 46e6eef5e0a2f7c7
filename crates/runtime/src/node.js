// The Node surface Forge functions run with (FORGE-API §5), written from
// Node's documentation: `Buffer`, `process.env` (the job's environment only),
// CommonJS `module`/`exports`, and the pure built-in modules. A module,
// compiled to bytecode once per process; each run that touches one of these
// names calls its default export with `host`, the run's native functions:
//   host.env                       JSON: the job's environment, secrets resolved
//   host.digest(alg, bytes)        → ArrayBuffer   (sha1, sha256, sha384, sha512, md5)
//   host.hmac(alg, key, bytes)     → ArrayBuffer
//   host.format(...args)           → string        (console formatting, util.format)
// Returns the module namespaces, the globals and the CommonJS `module`.
export default function node(host) {
  const freeze = Object.freeze;
  let utf8Encoder;
  let utf8Decoder;
  const encodeUtf8 = (text) => (utf8Encoder ??= new TextEncoder()).encode(text);
  const decodeUtf8 = (bytes) => (utf8Decoder ??= new TextDecoder()).decode(bytes);

  // ------------------------------------------------------------------ Buffer

  const ENCODINGS = ['utf8', 'utf-8', 'hex', 'base64', 'base64url', 'latin1', 'binary', 'ascii',
    'ucs2', 'ucs-2', 'utf16le', 'utf-16le'];

  function normaliseEncoding(encoding) {
    if (encoding === undefined || encoding === null) return 'utf8';
    const lower = String(encoding).toLowerCase();
    switch (lower) {
      case 'utf8': case 'utf-8': return 'utf8';
      case 'binary': case 'latin1': return 'latin1';
      case 'ucs2': case 'ucs-2': case 'utf16le': case 'utf-16le': return 'utf16le';
      case 'hex': case 'base64': case 'base64url': case 'ascii': return lower;
      default: {
        const error = new TypeError(`Unknown encoding: ${encoding}`);
        error.code = 'ERR_UNKNOWN_ENCODING';
        throw error;
      }
    }
  }

  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const B64_VALUES = new Int16Array(128).fill(-1);
  for (let i = 0; i < 64; i++) {
    B64_VALUES[B64.charCodeAt(i)] = i;
    B64_VALUES[B64URL.charCodeAt(i)] = i;
  }

  function encodeBase64(bytes, alphabet, pad) {
    let out = '';
    let i = 0;
    for (; i + 2 < bytes.length; i += 3) {
      const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
      out += alphabet[n >> 18] + alphabet[(n >> 12) & 63] + alphabet[(n >> 6) & 63] + alphabet[n & 63];
    }
    const rest = bytes.length - i;
    if (rest === 1) {
      const n = bytes[i] << 16;
      out += alphabet[n >> 18] + alphabet[(n >> 12) & 63] + (pad ? '==' : '');
    } else if (rest === 2) {
      const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
      out += alphabet[n >> 18] + alphabet[(n >> 12) & 63] + alphabet[(n >> 6) & 63] + (pad ? '=' : '');
    }
    return out;
  }

  // Node's decoder: both alphabets, whitespace and other characters skipped,
  // stops at the first '='.
  function decodeBase64(text) {
    const out = new Uint8Array(Math.floor((text.length * 3) / 4) + 3);
    let length = 0;
    let bits = 0;
    let count = 0;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code === 61) break;
      const value = code < 128 ? B64_VALUES[code] : -1;
      if (value < 0) continue;
      bits = (bits << 6) | value;
      count += 6;
      if (count >= 8) {
        count -= 8;
        out[length++] = (bits >> count) & 0xff;
      }
    }
    return out.subarray(0, length);
  }

  function decodeHex(text) {
    const out = new Uint8Array(text.length >> 1);
    let length = 0;
    for (let i = 0; i + 1 < text.length; i += 2) {
      const byte = parseInt(text.substr(i, 2), 16);
      if (Number.isNaN(byte) || !/^[0-9a-fA-F]{2}$/.test(text.substr(i, 2))) break;
      out[length++] = byte;
    }
    return out.subarray(0, length);
  }

  function bytesOf(text, encoding) {
    switch (normaliseEncoding(encoding)) {
      case 'utf8': return encodeUtf8(text);
      case 'hex': return decodeHex(text);
      case 'base64': case 'base64url': return decodeBase64(text);
      case 'latin1': case 'ascii': {
        const out = new Uint8Array(text.length);
        for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
        return out;
      }
      case 'utf16le': {
        const out = new Uint8Array(text.length * 2);
        for (let i = 0; i < text.length; i++) {
          const code = text.charCodeAt(i);
          out[i * 2] = code & 0xff;
          out[i * 2 + 1] = code >> 8;
        }
        return out;
      }
    }
  }

  function textOf(bytes, encoding) {
    switch (normaliseEncoding(encoding)) {
      case 'utf8': return decodeUtf8(bytes);
      case 'hex': {
        let out = '';
        for (let i = 0; i < bytes.length; i++) out += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
        return out;
      }
      case 'base64': return encodeBase64(bytes, B64, true);
      case 'base64url': return encodeBase64(bytes, B64URL, false);
      case 'latin1': return chars(bytes, 0xff);
      case 'ascii': return chars(bytes, 0x7f);
      case 'utf16le': {
        let out = '';
        for (let i = 0; i + 1 < bytes.length; i += 2) out += String.fromCharCode(bytes[i] | (bytes[i + 1] << 8));
        return out;
      }
    }
  }

  function chars(bytes, mask) {
    let out = '';
    for (let i = 0; i < bytes.length; i += 8192) {
      const chunk = bytes.subarray(i, i + 8192);
      out += String.fromCharCode.apply(null, mask === 0xff ? chunk : Array.from(chunk, (b) => b & mask));
    }
    return out;
  }

  function rangeError(message, code) {
    const error = new RangeError(message);
    error.code = code;
    return error;
  }

  function checkOffset(buffer, offset, size) {
    if (offset === undefined) offset = 0;
    if (typeof offset !== 'number' || !Number.isInteger(offset)) {
      const error = new TypeError(`The "offset" argument must be of type number. Received ${typeof offset}`);
      error.code = 'ERR_INVALID_ARG_TYPE';
      throw error;
    }
    if (offset < 0 || offset + size > buffer.length) {
      throw rangeError(
        `The value of "offset" is out of range. It must be >= 0 and <= ${buffer.length - size}. Received ${offset}`,
        'ERR_OUT_OF_RANGE',
      );
    }
    return offset;
  }

  function view(buffer) {
    return new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }

  class Buffer extends Uint8Array {
    static from(value, encodingOrOffset, length) {
      if (typeof value === 'string') return toBuffer(bytesOf(value, encodingOrOffset));
      if (value instanceof ArrayBuffer || (typeof SharedArrayBuffer === 'function' && value instanceof SharedArrayBuffer)) {
        const offset = encodingOrOffset === undefined ? 0 : Number(encodingOrOffset);
        const size = length === undefined ? value.byteLength - offset : Number(length);
        return new Buffer(value, offset, size);
      }
      if (ArrayBuffer.isView(value)) {
        const copy = new Buffer(value.length);
        copy.set(value instanceof Uint8Array ? value : Array.from(value));
        return copy;
      }
      if (value !== null && typeof value === 'object') {
        if (value.type === 'Buffer' && Array.isArray(value.data)) return Buffer.from(value.data);
        if (typeof value.length === 'number' || Array.isArray(value)) {
          const copy = new Buffer(value.length >>> 0);
          for (let i = 0; i < copy.length; i++) copy[i] = value[i];
          return copy;
        }
        if (typeof value.valueOf === 'function' && value.valueOf() !== value) {
          return Buffer.from(value.valueOf(), encodingOrOffset, length);
        }
      }
      const error = new TypeError(
        'The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array ' +
          `or an Array-like Object. Received ${value === null ? 'null' : typeof value}`,
      );
      error.code = 'ERR_INVALID_ARG_TYPE';
      throw error;
    }
    static alloc(size, fill, encoding) {
      checkSize(size);
      const buffer = new Buffer(size);
      if (fill !== undefined && fill !== 0) buffer.fill(fill, 0, buffer.length, encoding);
      return buffer;
    }
    static allocUnsafe(size) {
      checkSize(size);
      return new Buffer(size);
    }
    static allocUnsafeSlow(size) {
      return Buffer.allocUnsafe(size);
    }
    static isBuffer(value) {
      return value instanceof Buffer;
    }
    static isEncoding(encoding) {
      return typeof encoding === 'string' && ENCODINGS.includes(encoding.toLowerCase());
    }
    static byteLength(value, encoding) {
      if (typeof value !== 'string') return value.byteLength;
      return bytesOf(value, encoding).length;
    }
    static concat(list, totalLength) {
      if (!Array.isArray(list)) {
        throw new TypeError('The "list" argument must be an instance of Array');
      }
      const total = totalLength === undefined ? list.reduce((sum, item) => sum + item.length, 0) : totalLength;
      const out = Buffer.alloc(total);
      let at = 0;
      for (const item of list) {
        if (at >= total) break;
        const part = item.length > total - at ? item.subarray(0, total - at) : item;
        out.set(part, at);
        at += part.length;
      }
      return out;
    }
    static compare(a, b) {
      return compareBytes(a, b);
    }
    toString(encoding, start, end) {
      start = start === undefined ? 0 : Math.max(0, start | 0);
      end = end === undefined ? this.length : Math.min(this.length, end | 0);
      if (end <= start) return '';
      return textOf(this.subarray(start, end), encoding);
    }
    toJSON() {
      return { type: 'Buffer', data: Array.from(this) };
    }
    equals(other) {
      if (!(other instanceof Uint8Array)) {
        throw new TypeError('The "otherBuffer" argument must be an instance of Buffer or Uint8Array.');
      }
      return compareBytes(this, other) === 0;
    }
    compare(other) {
      return compareBytes(this, other);
    }
    slice(start, end) {
      return this.subarray(start, end);
    }
    write(text, offset, length, encoding) {
      if (typeof offset === 'string') [encoding, offset, length] = [offset, 0, undefined];
      else if (typeof length === 'string') [encoding, length] = [length, undefined];
      offset = offset === undefined ? 0 : offset;
      const bytes = bytesOf(String(text), encoding);
      const count = Math.min(bytes.length, this.length - offset, length === undefined ? Infinity : length);
      this.set(bytes.subarray(0, count), offset);
      return count;
    }
    fill(value, start, end, encoding) {
      if (typeof start === 'string') [encoding, start, end] = [start, 0, this.length];
      start = start === undefined ? 0 : start;
      end = end === undefined ? this.length : end;
      if (typeof value === 'number') return Uint8Array.prototype.fill.call(this, value & 0xff, start, end);
      const bytes = typeof value === 'string' ? bytesOf(value, encoding) : Buffer.from(value);
      if (bytes.length === 0) return Uint8Array.prototype.fill.call(this, 0, start, end);
      for (let i = start, j = 0; i < end; i++, j = (j + 1) % bytes.length) this[i] = bytes[j];
      return this;
    }
    copy(target, targetStart = 0, sourceStart = 0, sourceEnd = this.length) {
      const part = this.subarray(sourceStart, Math.min(sourceEnd, sourceStart + target.length - targetStart));
      target.set(part, targetStart);
      return part.length;
    }
    indexOf(value, byteOffset, encoding) {
      if (typeof value === 'number') return Uint8Array.prototype.indexOf.call(this, value & 0xff, byteOffset);
      const needle = typeof value === 'string' ? bytesOf(value, encoding) : value;
      const from = byteOffset === undefined ? 0 : byteOffset < 0 ? Math.max(0, this.length + byteOffset) : byteOffset;
      outer: for (let i = from; i <= this.length - needle.length; i++) {
        for (let j = 0; j < needle.length; j++) if (this[i + j] !== needle[j]) continue outer;
        return i;
      }
      return -1;
    }
    includes(value, byteOffset, encoding) {
      return this.indexOf(value, byteOffset, encoding) !== -1;
    }
    readUInt8(offset) { return this[checkOffset(this, offset, 1)]; }
    readInt8(offset) { return view(this).getInt8(checkOffset(this, offset, 1)); }
    readUInt16LE(offset) { return view(this).getUint16(checkOffset(this, offset, 2), true); }
    readUInt16BE(offset) { return view(this).getUint16(checkOffset(this, offset, 2), false); }
    readInt16LE(offset) { return view(this).getInt16(checkOffset(this, offset, 2), true); }
    readInt16BE(offset) { return view(this).getInt16(checkOffset(this, offset, 2), false); }
    readUInt32LE(offset) { return view(this).getUint32(checkOffset(this, offset, 4), true); }
    readUInt32BE(offset) { return view(this).getUint32(checkOffset(this, offset, 4), false); }
    readInt32LE(offset) { return view(this).getInt32(checkOffset(this, offset, 4), true); }
    readInt32BE(offset) { return view(this).getInt32(checkOffset(this, offset, 4), false); }
    readBigUInt64LE(offset) { return view(this).getBigUint64(checkOffset(this, offset, 8), true); }
    readBigUInt64BE(offset) { return view(this).getBigUint64(checkOffset(this, offset, 8), false); }
    readFloatLE(offset) { return view(this).getFloat32(checkOffset(this, offset, 4), true); }
    readFloatBE(offset) { return view(this).getFloat32(checkOffset(this, offset, 4), false); }
    readDoubleLE(offset) { return view(this).getFloat64(checkOffset(this, offset, 8), true); }
    readDoubleBE(offset) { return view(this).getFloat64(checkOffset(this, offset, 8), false); }
    writeUInt8(value, offset) { return writeWith(this, 'setUint8', value, offset, 1, 0, 0xff, true); }
    writeInt8(value, offset) { return writeWith(this, 'setInt8', value, offset, 1, -0x80, 0x7f, true); }
    writeUInt16LE(value, offset) { return writeWith(this, 'setUint16', value, offset, 2, 0, 0xffff, true); }
    writeUInt16BE(value, offset) { return writeWith(this, 'setUint16', value, offset, 2, 0, 0xffff, false); }
    writeInt16LE(value, offset) { return writeWith(this, 'setInt16', value, offset, 2, -0x8000, 0x7fff, true); }
    writeInt16BE(value, offset) { return writeWith(this, 'setInt16', value, offset, 2, -0x8000, 0x7fff, false); }
    writeUInt32LE(value, offset) { return writeWith(this, 'setUint32', value, offset, 4, 0, 0xffffffff, true); }
    writeUInt32BE(value, offset) { return writeWith(this, 'setUint32', value, offset, 4, 0, 0xffffffff, false); }
    writeInt32LE(value, offset) { return writeWith(this, 'setInt32', value, offset, 4, -0x80000000, 0x7fffffff, true); }
    writeInt32BE(value, offset) { return writeWith(this, 'setInt32', value, offset, 4, -0x80000000, 0x7fffffff, false); }
  }
  for (const [alias, name] of [
    ['readUint8', 'readUInt8'], ['readUint16LE', 'readUInt16LE'], ['readUint16BE', 'readUInt16BE'],
    ['readUint32LE', 'readUInt32LE'], ['readUint32BE', 'readUInt32BE'], ['writeUint8', 'writeUInt8'],
    ['writeUint16LE', 'writeUInt16LE'], ['writeUint16BE', 'writeUInt16BE'],
    ['writeUint32LE', 'writeUInt32LE'], ['writeUint32BE', 'writeUInt32BE'],
  ]) {
    Object.defineProperty(Buffer.prototype, alias, {
      value: Buffer.prototype[name], writable: true, configurable: true,
    });
  }
  Buffer.poolSize = 8192;

  function writeWith(buffer, setter, value, offset, size, min, max, littleEndian) {
    offset = checkOffset(buffer, offset, size);
    if (typeof value !== 'number' || value < min || value > max) {
      throw rangeError(
        `The value of "value" is out of range. It must be >= ${min} and <= ${max}. Received ${value}`,
        'ERR_OUT_OF_RANGE',
      );
    }
    view(buffer)[setter](offset, value, littleEndian);
    return offset + size;
  }

  function checkSize(size) {
    if (typeof size !== 'number' || !(size >= 0) || size > 0x7fffffff) {
      const error = new RangeError(`The argument 'size' is invalid. Received ${size}`);
      error.code = 'ERR_INVALID_ARG_VALUE';
      throw error;
    }
  }

  function toBuffer(bytes) {
    return new Buffer(bytes.buffer, bytes.byteOffset, bytes.length);
  }

  function compareBytes(a, b) {
    const length = Math.min(a.length, b.length);
    for (let i = 0; i < length; i++) {
      if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
    }
    return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
  }

  const buffer = { Buffer, atob, btoa, kMaxLength: 0x7fffffff };
  buffer.default = buffer;

  // ------------------------------------------------------------------ crypto

  const HASHES = { sha1: 'sha1', sha256: 'sha256', sha384: 'sha384', sha512: 'sha512', md5: 'md5' };

  function hashName(algorithm) {
    const name = HASHES[String(algorithm).toLowerCase().replace('-', '')];
    if (name === undefined) throw new Error('Digest method not supported');
    return name;
  }

  // Data given to update/digest: a string (in `encoding`) or bytes.
  function dataBytes(data, encoding) {
    if (typeof data === 'string') return bytesOf(data, encoding);
    if (data instanceof ArrayBuffer) return new Uint8Array(data);
    if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const error = new TypeError(
      'The "data" argument must be of type string or an instance of Buffer, TypedArray, or DataView.' +
        ` Received ${data === null ? 'null' : typeof data}`,
    );
    error.code = 'ERR_INVALID_ARG_TYPE';
    throw error;
  }

  class Digester {
    #parts = [];
    #done = false;
    #finish;
    constructor(finish) {
      this.#finish = finish;
    }
    update(data, encoding) {
      if (this.#done) throw new Error('Digest already called');
      this.#parts.push(Buffer.from(dataBytes(data, encoding)));
      return this;
    }
    digest(encoding) {
      if (this.#done) throw new Error('Digest already called');
      this.#done = true;
      const out = Buffer.from(this.#finish(Buffer.concat(this.#parts)));
      return encoding === undefined || encoding === 'buffer' ? out : out.toString(encoding);
    }
  }

  function createHash(algorithm) {
    const name = hashName(algorithm);
    return new Digester((bytes) => host.digest(name, bytes));
  }

  function createHmac(algorithm, key) {
    const name = hashName(algorithm);
    const keyBytes = dataBytes(key, 'utf8');
    return new Digester((bytes) => host.hmac(name, keyBytes, bytes));
  }

  function randomBytes(size, callback) {
    checkSize(size);
    const bytes = Buffer.alloc(size);
    globalThis.crypto.getRandomValues(bytes);
    if (typeof callback === 'function') {
      queueMicrotask(() => callback(null, bytes));
      return undefined;
    }
    return bytes;
  }

  function randomInt(min, max) {
    if (max === undefined) [min, max] = [0, min];
    const range = max - min;
    if (!Number.isSafeInteger(range) || range <= 0) {
      throw rangeError(`The value of "max" is out of range. It must be greater than the value of "min" (${min}). Received ${max}`, 'ERR_OUT_OF_RANGE');
    }
    const words = new Uint32Array(2);
    globalThis.crypto.getRandomValues(words);
    const random = (words[0] * 2 ** 21 + (words[1] >>> 11)) / 2 ** 53;
    return min + Math.floor(random * range);
  }

  function timingSafeEqual(a, b) {
    const left = dataBytes(a);
    const right = dataBytes(b);
    if (left.length !== right.length) {
      throw rangeError('Input buffers must have the same byte length', 'ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH');
    }
    let difference = 0;
    for (let i = 0; i < left.length; i++) difference |= left[i] ^ right[i];
    return difference === 0;
  }

  const cryptoModule = {
    createHash,
    createHmac,
    randomBytes,
    randomInt,
    randomUUID: () => globalThis.crypto.randomUUID(),
    getRandomValues: (array) => globalThis.crypto.getRandomValues(array),
    timingSafeEqual,
    getHashes: () => Object.keys(HASHES),
    get subtle() {
      return globalThis.crypto.subtle;
    },
    get webcrypto() {
      return globalThis.crypto;
    },
  };
  cryptoModule.default = cryptoModule;

  // -------------------------------------------------------------------- util

  const inspect = (value) =>
    typeof value === 'string' ? `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'` : host.format(value);
  const format = (...args) => host.format(...args);

  function promisify(original) {
    if (typeof original !== 'function') {
      throw new TypeError('The "original" argument must be of type function');
    }
    return function (...args) {
      return new Promise((resolve, reject) => {
        original.call(this, ...args, (error, value) => (error ? reject(error) : resolve(value)));
      });
    };
  }

  function callbackify(original) {
    return function (...args) {
      const callback = args.pop();
      original.apply(this, args).then((value) => callback(null, value), (error) => callback(error));
    };
  }

  function deprecate(fn, message) {
    let warned = false;
    return function (...args) {
      if (!warned) {
        warned = true;
        console.warn(`DeprecationWarning: ${message}`);
      }
      return fn.apply(this, args);
    };
  }

  function inherits(constructor, superConstructor) {
    Object.setPrototypeOf(constructor.prototype, superConstructor.prototype);
    Object.defineProperty(constructor, 'super_', { value: superConstructor, writable: true, configurable: true });
  }

  const tag = (value) => Object.prototype.toString.call(value);
  const types = freeze({
    isDate: (v) => tag(v) === '[object Date]',
    isRegExp: (v) => tag(v) === '[object RegExp]',
    isPromise: (v) => v instanceof Promise,
    isMap: (v) => v instanceof Map,
    isSet: (v) => v instanceof Set,
    isTypedArray: (v) => ArrayBuffer.isView(v) && !(v instanceof DataView),
    isUint8Array: (v) => v instanceof Uint8Array,
    isArrayBuffer: (v) => v instanceof ArrayBuffer,
    isAnyArrayBuffer: (v) => v instanceof ArrayBuffer,
    isNativeError: (v) => v instanceof Error,
    isAsyncFunction: (v) => typeof v === 'function' && v.constructor && v.constructor.name === 'AsyncFunction',
    isGeneratorFunction: (v) => typeof v === 'function' && v.constructor && v.constructor.name === 'GeneratorFunction',
  });

  function isDeepStrictEqual(a, b) {
    return deepEqual(a, b, true);
  }

  function deepEqual(a, b, strict) {
    if (strict ? Object.is(a, b) : a == b) return true;
    if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
    if (strict && Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
    if (tag(a) !== tag(b)) return false;
    if (a instanceof Date) return a.getTime() === b.getTime();
    if (a instanceof RegExp) return String(a) === String(b);
    if (a instanceof Map || a instanceof Set) {
      if (a.size !== b.size) return false;
      for (const [key, value] of a.entries()) {
        if (!b.has(key) || (a instanceof Map && !deepEqual(value, b.get(key), strict))) return false;
      }
      return true;
    }
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    return keys.every((key) => Object.prototype.hasOwnProperty.call(b, key) && deepEqual(a[key], b[key], strict));
  }

  const util = {
    format, inspect, promisify, callbackify, deprecate, inherits, isDeepStrictEqual, types,
    get TextEncoder() { return globalThis.TextEncoder; },
    get TextDecoder() { return globalThis.TextDecoder; },
  };
  promisify.custom = Symbol.for('nodejs.util.promisify.custom');
  inspect.custom = Symbol.for('nodejs.util.inspect.custom');
  util.default = util;

  // ------------------------------------------------------ url, querystring

  const url = {
    get URL() { return globalThis.URL; },
    get URLSearchParams() { return globalThis.URLSearchParams; },
  };
  url.default = url;

  const qsEscape = (text) => encodeURIComponent(text);
  function qsUnescape(text) {
    try {
      return decodeURIComponent(text);
    } catch {
      return text;
    }
  }

  function qsStringify(object, sep = '&', eq = '=') {
    if (object === null || typeof object !== 'object') return '';
    const value = (v) => (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean'
      ? qsEscape(String(v)) : '');
    return Object.keys(object)
      .map((key) => {
        const v = object[key];
        const name = qsEscape(key) + eq;
        return Array.isArray(v) ? v.map((item) => name + value(item)).join(sep) : name + value(v);
      })
      .filter((part) => part !== '')
      .join(sep);
  }

  function qsParse(text, sep = '&', eq = '=') {
    const out = Object.create(null);
    if (typeof text !== 'string' || text.length === 0) return out;
    for (const part of text.split(sep)) {
      if (part === '') continue;
      const at = part.indexOf(eq);
      const key = qsUnescape((at < 0 ? part : part.slice(0, at)).replace(/\+/g, ' '));
      const value = at < 0 ? '' : qsUnescape(part.slice(at + eq.length).replace(/\+/g, ' '));
      if (key in out) out[key] = [].concat(out[key], value);
      else out[key] = value;
    }
    return out;
  }

  const querystring = {
    parse: qsParse, decode: qsParse, stringify: qsStringify, encode: qsStringify,
    escape: qsEscape, unescape: qsUnescape,
  };
  querystring.default = querystring;

  // ------------------------------------------------------------------ events

  class EventEmitter {
    #events = new Map();
    #max = 10;
    on(name, listener) {
      return this.addListener(name, listener);
    }
    addListener(name, listener) {
      checkListener(listener);
      if (this.#events.has('newListener')) this.emit('newListener', name, listener);
      const list = this.#events.get(name) || [];
      list.push(listener);
      this.#events.set(name, list);
      return this;
    }
    prependListener(name, listener) {
      checkListener(listener);
      this.#events.set(name, [listener, ...(this.#events.get(name) || [])]);
      return this;
    }
    once(name, listener) {
      checkListener(listener);
      const wrapper = (...args) => {
        this.removeListener(name, wrapper);
        return listener.apply(this, args);
      };
      wrapper.listener = listener;
      return this.on(name, wrapper);
    }
    off(name, listener) {
      return this.removeListener(name, listener);
    }
    removeListener(name, listener) {
      const list = this.#events.get(name);
      if (!list) return this;
      const at = list.findIndex((l) => l === listener || l.listener === listener);
      if (at >= 0) list.splice(at, 1);
      if (list.length === 0) this.#events.delete(name);
      return this;
    }
    removeAllListeners(name) {
      if (name === undefined) this.#events.clear();
      else this.#events.delete(name);
      return this;
    }
    emit(name, ...args) {
      const list = this.#events.get(name);
      if (!list || list.length === 0) {
        if (name === 'error') throw args[0] instanceof Error ? args[0] : new Error(`Unhandled error. (${args[0]})`);
        return false;
      }
      for (const listener of [...list]) listener.apply(this, args);
      return true;
    }
    listeners(name) {
      return (this.#events.get(name) || []).map((l) => l.listener || l);
    }
    rawListeners(name) {
      return [...(this.#events.get(name) || [])];
    }
    listenerCount(name) {
      return (this.#events.get(name) || []).length;
    }
    eventNames() {
      return [...this.#events.keys()];
    }
    setMaxListeners(n) {
      this.#max = n;
      return this;
    }
    getMaxListeners() {
      return this.#max;
    }
  }

  function checkListener(listener) {
    if (typeof listener !== 'function') {
      const error = new TypeError(`The "listener" argument must be of type function. Received ${typeof listener}`);
      error.code = 'ERR_INVALID_ARG_TYPE';
      throw error;
    }
  }

  function once(emitter, name) {
    return new Promise((resolve, reject) => {
      const onError = (error) => {
        emitter.removeListener(name, onEvent);
        reject(error);
      };
      const onEvent = (...args) => {
        if (name !== 'error') emitter.removeListener('error', onError);
        resolve(args);
      };
      emitter.once(name, onEvent);
      if (name !== 'error') emitter.once('error', onError);
    });
  }

  // `require('events')` is the class itself, with the rest as its properties.
  EventEmitter.EventEmitter = EventEmitter;
  EventEmitter.once = once;
  EventEmitter.defaultMaxListeners = 10;
  const events = { default: EventEmitter, EventEmitter, once };

  // ------------------------------------------------------------------ timers

  const setImmediate = (callback, ...args) => globalThis.setTimeout(callback, 0, ...args);
  const clearImmediate = (id) => globalThis.clearTimeout(id);
  const timers = {
    setTimeout: (...args) => globalThis.setTimeout(...args),
    clearTimeout: (id) => globalThis.clearTimeout(id),
    setInterval: (...args) => globalThis.setInterval(...args),
    clearInterval: (id) => globalThis.clearInterval(id),
    setImmediate,
    clearImmediate,
  };
  timers.default = timers;

  const timersPromises = {
    setTimeout: (delay, value) => new Promise((resolve) => globalThis.setTimeout(() => resolve(value), delay)),
    setImmediate: (value) => new Promise((resolve) => globalThis.setTimeout(() => resolve(value), 0)),
  };
  timersPromises.default = timersPromises;

  // ------------------------------------------------------------------ assert

  class AssertionError extends Error {
    constructor(options) {
      super(options.message);
      this.name = 'AssertionError';
      this.code = 'ERR_ASSERTION';
      this.actual = options.actual;
      this.expected = options.expected;
      this.operator = options.operator;
      this.generatedMessage = options.generated;
    }
  }

  function failWith(message, actual, expected, operator, fallback) {
    if (message instanceof Error) throw message;
    throw new AssertionError({
      message: message === undefined ? fallback : message,
      actual, expected, operator, generated: message === undefined,
    });
  }

  const show = (value) => host.format(value);

  function ok(value, message) {
    if (!value) failWith(message, value, true, '==', 'The expression evaluated to a falsy value:\n\n  assert.ok(' + show(value) + ')\n');
  }

  const assert = (value, message) => ok(value, message);
  Object.assign(assert, {
    ok,
    equal(actual, expected, message) {
      if (!(actual == expected)) failWith(message, actual, expected, '==', `${show(actual)} == ${show(expected)}`);
    },
    notEqual(actual, expected, message) {
      if (actual == expected) failWith(message, actual, expected, '!=', `${show(actual)} != ${show(expected)}`);
    },
    strictEqual(actual, expected, message) {
      if (!Object.is(actual, expected)) {
        failWith(message, actual, expected, 'strictEqual',
          `Expected values to be strictly equal:\n\n${show(actual)} !== ${show(expected)}\n`);
      }
    },
    notStrictEqual(actual, expected, message) {
      if (Object.is(actual, expected)) {
        failWith(message, actual, expected, 'notStrictEqual', `Expected "actual" to be strictly unequal to: ${show(expected)}`);
      }
    },
    deepEqual(actual, expected, message) {
      if (!deepEqual(actual, expected, false)) {
        failWith(message, actual, expected, 'deepEqual', `Expected values to be loosely deep-equal:\n\n${show(actual)}\n\nshould loosely deep-equal\n\n${show(expected)}`);
      }
    },
    deepStrictEqual(actual, expected, message) {
      if (!deepEqual(actual, expected, true)) {
        failWith(message, actual, expected, 'deepStrictEqual', `Expected values to be strictly deep-equal:\n${show(actual)}\n\nshould equal\n\n${show(expected)}`);
      }
    },
    notDeepStrictEqual(actual, expected, message) {
      if (deepEqual(actual, expected, true)) {
        failWith(message, actual, expected, 'notDeepStrictEqual', `Expected "actual" not to be strictly deep-equal to: ${show(expected)}`);
      }
    },
    throws(fn, expected, message) {
      try {
        fn();
      } catch (error) {
        if (typeof expected === 'function' && expected.prototype !== undefined && !(error instanceof expected)) throw error;
        if (expected instanceof RegExp && !expected.test(String(error && error.message !== undefined ? error.message : error))) {
          failWith(message, error, expected, 'throws', `The input did not match the regular expression ${expected}`);
        }
        return;
      }
      failWith(typeof expected === 'string' ? expected : message, undefined, expected, 'throws', 'Missing expected exception.');
    },
    async rejects(promise, expected, message) {
      try {
        await (typeof promise === 'function' ? promise() : promise);
      } catch (error) {
        if (typeof expected === 'function' && expected.prototype !== undefined && !(error instanceof expected)) throw error;
        return;
      }
      failWith(typeof expected === 'string' ? expected : message, undefined, expected, 'rejects', 'Missing expected rejection.');
    },
    fail(message) {
      failWith(message, undefined, undefined, 'fail', 'Failed');
    },
    AssertionError,
  });
  assert.strict = assert;
  const assertModule = { ...assert, default: assert };

  // -------------------------------------------------------------------- path

  function normalizeParts(parts, absolute) {
    const out = [];
    for (const part of parts) {
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
        else if (!absolute) out.push('..');
      } else out.push(part);
    }
    return out;
  }

  function normalize(path) {
    if (path === '') return '.';
    const absolute = path.startsWith('/');
    const trailing = path.endsWith('/');
    let out = normalizeParts(path.split('/'), absolute).join('/');
    if (out === '' && !absolute) out = '.';
    if (out !== '' && trailing) out += '/';
    return (absolute ? '/' : '') + out;
  }

  function checkPath(value) {
    if (typeof value !== 'string') {
      const error = new TypeError(`The "path" argument must be of type string. Received ${typeof value}`);
      error.code = 'ERR_INVALID_ARG_TYPE';
      throw error;
    }
  }

  function basename(path, ext) {
    checkPath(path);
    let base = path.replace(/\/+$/, '');
    base = base.slice(base.lastIndexOf('/') + 1);
    if (ext !== undefined && base.endsWith(ext) && base !== ext) base = base.slice(0, -ext.length);
    return base;
  }

  const path = {
    sep: '/',
    delimiter: ':',
    normalize: (p) => (checkPath(p), normalize(p)),
    join: (...parts) => {
      parts.forEach(checkPath);
      const joined = parts.filter((p) => p !== '').join('/');
      return joined === '' ? '.' : normalize(joined);
    },
    // No working directory in the sandbox: relative paths resolve against '/'.
    resolve: (...parts) => {
      let resolved = '';
      for (let i = parts.length - 1; i >= 0 && !resolved.startsWith('/'); i--) {
        checkPath(parts[i]);
        if (parts[i] !== '') resolved = parts[i] + (resolved === '' ? '' : '/' + resolved);
      }
      const out = normalizeParts(('/' + resolved).split('/'), true).join('/');
      return '/' + out;
    },
    isAbsolute: (p) => (checkPath(p), p.startsWith('/')),
    dirname: (p) => {
      checkPath(p);
      const trimmed = p.replace(/\/+$/, '');
      const at = trimmed.lastIndexOf('/');
      if (at < 0) return p.startsWith('/') ? '/' : '.';
      return at === 0 ? '/' : trimmed.slice(0, at);
    },
    basename,
    extname: (p) => {
      const base = basename(p);
      const at = base.lastIndexOf('.');
      return at <= 0 ? '' : base.slice(at);
    },
    relative: (from, to) => {
      const a = path.resolve(from).split('/').filter(Boolean);
      const b = path.resolve(to).split('/').filter(Boolean);
      let i = 0;
      while (i < a.length && i < b.length && a[i] === b[i]) i++;
      return [...Array(a.length - i).fill('..'), ...b.slice(i)].join('/');
    },
  };
  path.posix = path;
  path.default = path;

  // ----------------------------------------------------------------- process

  const env = Object.create(null);
  Object.assign(env, JSON.parse(host.env));
  const process = {
    env,
    argv: [],
    platform: 'linux',
    version: 'v20.0.0',
    versions: {},
    nextTick: (callback, ...args) => queueMicrotask(() => callback(...args)),
    exit() {
      throw new Error('process.exit is not available in Clockwork: return from the handler instead');
    },
    cwd: () => '/',
    hrtime: Object.assign(
      (previous) => {
        const now = performance.now();
        const seconds = Math.floor(now / 1000);
        const nanos = Math.floor((now % 1000) * 1e6);
        if (!previous) return [seconds, nanos];
        let s = seconds - previous[0];
        let n = nanos - previous[1];
        if (n < 0) [s, n] = [s - 1, n + 1e9];
        return [s, n];
      },
      { bigint: () => BigInt(Math.floor(performance.now() * 1e6)) },
    ),
    memoryUsage: () => ({ rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 }),
    on() { return process; },
    once() { return process; },
    off() { return process; },
    emitWarning: (warning) => console.warn(String(warning)),
  };
  const processModule = { default: process, env, nextTick: process.nextTick };

  // ------------------------------------------------------ string_decoder, punycode

  class StringDecoder {
    #encoding;
    #pending = new Uint8Array(0);
    constructor(encoding) {
      this.#encoding = normaliseEncoding(encoding);
    }
    write(bytes) {
      if (this.#encoding !== 'utf8') return textOf(bytes, this.#encoding);
      const all = Buffer.concat([this.#pending, bytes]);
      let end = all.length;
      // Keep an incomplete UTF-8 sequence at the end for the next write.
      for (let back = 1; back <= Math.min(3, all.length); back++) {
        const byte = all[all.length - back];
        if ((byte & 0xc0) === 0x80) continue;
        const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
        if (need > back) end = all.length - back;
        break;
      }
      this.#pending = all.slice(end);
      return textOf(all.subarray(0, end), 'utf8');
    }
    end(bytes) {
      const text = bytes === undefined ? '' : this.write(bytes);
      const rest = this.#pending.length > 0 ? textOf(this.#pending, this.#encoding) : '';
      this.#pending = new Uint8Array(0);
      return text + rest;
    }
  }
  const stringDecoder = { default: { StringDecoder }, StringDecoder };

  const punycodeModule = {
    toASCII: (domain) => new URL(`http://${domain}`).hostname,
    toUnicode: () => {
      throw new Error('punycode.toUnicode is not available in Clockwork');
    },
  };
  punycodeModule.default = punycodeModule;

  // ------------------------------------------------------------- CommonJS

  const module = { exports: {} };

  return {
    modules: {
      buffer,
      crypto: cryptoModule,
      util,
      url,
      querystring,
      events,
      timers,
      'timers/promises': timersPromises,
      assert: assertModule,
      'assert/strict': assertModule,
      path,
      'path/posix': path,
      process: processModule,
      string_decoder: stringDecoder,
      punycode: punycodeModule,
    },
    globals: { Buffer, process, module, exports: module.exports, setImmediate, clearImmediate, global: globalThis },
    module,
  };
}
