// Clockwork web globals: structuredClone (HTML structured serialisation,
// in-process). Keeps shared references and cycles; drops prototypes (class
// instances become plain objects, as in browsers and Node); throws a
// DataCloneError DOMException for functions, symbols, WeakMaps, Promises and
// other values that cannot be serialised.
export default function makeClone(host, need) {
  const getter = (proto, name) => Object.getOwnPropertyDescriptor(proto, name).get;
  const typedArrayProto = Object.getPrototypeOf(Uint8Array.prototype);
  const typedArrayTag = getter(typedArrayProto, Symbol.toStringTag);
  const mapSize = getter(Map.prototype, 'size');
  const setSize = getter(Set.prototype, 'size');
  const arrayBufferLength = getter(ArrayBuffer.prototype, 'byteLength');
  const dataViewLength = getter(DataView.prototype, 'byteLength');
  const regExpSource = getter(RegExp.prototype, 'source');
  const toStringTag = Object.prototype.toString;
  // Captured now: a script may replace the globals later.
  const errorTypes = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };
  const typedArrays = {
    Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
    BigInt64Array, BigUint64Array, Float32Array, Float64Array,
  };
  if (typeof Float16Array === 'function') typedArrays.Float16Array = Float16Array;

  function passes(check, value) {
    try {
      check.call(value);
      return true;
    } catch {
      return false;
    }
  }

  function describe(value) {
    if (typeof value === 'function') {
      let source;
      try {
        source = Function.prototype.toString.call(value);
      } catch {
        source = 'function';
      }
      return source.length > 60 ? `${source.slice(0, 57)}...` : source;
    }
    if (typeof value === 'symbol') return value.toString();
    const name = value?.constructor?.name;
    return `#<${typeof name === 'string' && name !== '' ? name : 'Object'}>`;
  }
  function cannotClone(value) {
    return new DOMException(`${describe(value)} could not be cloned.`, 'DataCloneError');
  }

  function structuredClone(value, options = undefined) {
    if (arguments.length === 0) {
      throw new TypeError("Failed to execute 'structuredClone': 1 argument required, but only 0 present.");
    }
    const memory = new Map();
    const transfer = options?.transfer;
    if (transfer !== undefined && transfer !== null) {
      const buffers = [...transfer];
      for (const buffer of buffers) {
        if (!passes(arrayBufferLength, buffer)) {
          throw new DOMException('Value not transferable', 'DataCloneError');
        }
        if (buffers.indexOf(buffer) !== buffers.lastIndexOf(buffer)) {
          throw new DOMException('ArrayBuffer is listed more than once in the transfer list', 'DataCloneError');
        }
      }
      // Transferring detaches the original, as the standard requires.
      for (const buffer of buffers) memory.set(buffer, buffer.transfer());
    }
    return copy(value, memory);
  }

  function copy(value, memory) {
    if (typeof value === 'symbol' || typeof value === 'function') throw cannotClone(value);
    if (typeof value !== 'object' || value === null) return value;
    const known = memory.get(value);
    if (known !== undefined) return known;

    if (host.proxyTarget(value) !== undefined) throw cannotClone(value);

    if (Array.isArray(value)) {
      const out = new Array(value.length);
      memory.set(value, out);
      for (const key of Object.keys(value)) out[key] = copy(value[key], memory);
      return out;
    }
    // Object.prototype.toString picks the candidate type cheaply; the exact
    // check (which throws for other types, slow in QuickJS) then confirms it.
    const tag = toStringTag.call(value);
    switch (tag) {
      case '[object Date]':
        if (passes(Date.prototype.getTime, value)) return remember(memory, value, new Date(Date.prototype.getTime.call(value)));
        break;
      case '[object RegExp]':
        if (value !== RegExp.prototype && passes(regExpSource, value)) {
          return remember(memory, value, new RegExp(regExpSource.call(value), value.flags));
        }
        break;
      case '[object Boolean]':
        if (passes(Boolean.prototype.valueOf, value)) return remember(memory, value, Object(Boolean.prototype.valueOf.call(value)));
        break;
      case '[object Number]':
        if (passes(Number.prototype.valueOf, value)) return remember(memory, value, Object(Number.prototype.valueOf.call(value)));
        break;
      case '[object String]':
        if (passes(String.prototype.valueOf, value)) return remember(memory, value, Object(String.prototype.valueOf.call(value)));
        break;
      case '[object BigInt]':
        if (passes(BigInt.prototype.valueOf, value)) return remember(memory, value, Object(BigInt.prototype.valueOf.call(value)));
        break;
      case '[object ArrayBuffer]':
        if (passes(arrayBufferLength, value)) {
          if (value.detached) throw new DOMException('An ArrayBuffer is detached and could not be cloned.', 'DataCloneError');
          return remember(memory, value, value.slice(0));
        }
        break;
      case '[object DataView]':
        if (passes(dataViewLength, value)) {
          const buffer = copy(value.buffer, memory);
          return remember(memory, value, new DataView(buffer, value.byteOffset, value.byteLength));
        }
        break;
      case '[object Map]':
        if (passes(mapSize, value)) {
          const out = new Map();
          memory.set(value, out);
          for (const [k, v] of Map.prototype.entries.call(value)) out.set(copy(k, memory), copy(v, memory));
          return out;
        }
        break;
      case '[object Set]':
        if (passes(setSize, value)) {
          const out = new Set();
          memory.set(value, out);
          for (const v of Set.prototype.values.call(value)) out.add(copy(v, memory));
          return out;
        }
        break;
    }
    const kind = typedArrayTag.call(value);
    if (kind !== undefined) {
      const buffer = copy(value.buffer, memory);
      return remember(memory, value, new typedArrays[kind](buffer, value.byteOffset, value.length));
    }
    if (value instanceof Error || tag === '[object Error]') return copyError(value, memory);
    if (tag !== '[object Object]' || value instanceof Promise) {
      throw cannotClone(value);
    }
    const out = {};
    memory.set(value, out);
    for (const key of Object.keys(value)) out[key] = copy(value[key], memory);
    return out;
  }

  function remember(memory, original, clone) {
    memory.set(original, clone);
    return clone;
  }

  function copyError(value, memory) {
    const type = Object.prototype.hasOwnProperty.call(errorTypes, value.name) ? errorTypes[value.name] : Error;
    const out = new type();
    memory.set(value, out);
    const define = (key, v) => Object.defineProperty(out, key, { value: v, writable: true, configurable: true, enumerable: false });
    if (Object.prototype.hasOwnProperty.call(value, 'message')) define('message', String(value.message));
    if (typeof value.stack === 'string') define('stack', value.stack);
    if ('cause' in value) define('cause', copy(value.cause, memory));
    return out;
  }

  return { structuredClone };
}
