// Clockwork web globals: console formatting with the output of Node's
// util.format / util.inspect (defaults: depth 2, breakLength 80, compact 3,
// 100 array items, 10000 string characters). Written from the documented and
// observed behaviour of Node 20; colours are never produced.
export default function makeInspect(host, need) {
  const customInspect = Symbol.for('nodejs.util.inspect.custom');
  const defaults = {
    depth: 2,
    breakLength: 80,
    compact: 3,
    maxArrayLength: 100,
    maxStringLength: 10000,
    showHidden: false,
  };

  // ---- brand checks that cannot be fooled by Symbol.toStringTag ----------
  const getter = (proto, name) => Object.getOwnPropertyDescriptor(proto, name).get;
  const typedArrayProto = Object.getPrototypeOf(Uint8Array.prototype);
  const typedArrayTag = getter(typedArrayProto, Symbol.toStringTag);
  const typedArrayLength = getter(typedArrayProto, 'length');
  const mapSize = getter(Map.prototype, 'size');
  const setSize = getter(Set.prototype, 'size');
  const arrayBufferLength = getter(ArrayBuffer.prototype, 'byteLength');
  const sharedArrayBufferLength =
    typeof SharedArrayBuffer === 'function' ? getter(SharedArrayBuffer.prototype, 'byteLength') : undefined;
  const dataViewLength = getter(DataView.prototype, 'byteLength');
  const regExpSource = getter(RegExp.prototype, 'source');
  const toStringTag = Object.prototype.toString;
  const hasOwn = Object.prototype.hasOwnProperty;
  const isEnumerable = Object.prototype.propertyIsEnumerable;
  const AsyncFunctionProto = Object.getPrototypeOf(async function () {});
  const GeneratorFunctionProto = Object.getPrototypeOf(function* () {});
  const AsyncGeneratorFunctionProto = Object.getPrototypeOf(async function* () {});

  function passes(check, value) {
    try {
      check.call(value);
      return true;
    } catch {
      return false;
    }
  }
  // `objectTag` is Object.prototype.toString of the value: a cheap filter, so
  // that the exact checks (which throw for other types, and throwing is slow
  // in QuickJS) only run on likely candidates.
  const isMap = (v, objectTag) => objectTag === '[object Map]' && passes(mapSize, v);
  const isSet = (v, objectTag) => objectTag === '[object Set]' && passes(setSize, v);
  const isTypedArray = (v) => typedArrayTag.call(v) !== undefined;
  const isArrayBuffer = (v, objectTag) => objectTag === '[object ArrayBuffer]' && passes(arrayBufferLength, v);
  const isSharedArrayBuffer = (v, objectTag) =>
    objectTag === '[object SharedArrayBuffer]' && sharedArrayBufferLength !== undefined && passes(sharedArrayBufferLength, v);
  const isDataView = (v, objectTag) => objectTag === '[object DataView]' && passes(dataViewLength, v);
  const isRegExp = (v, objectTag) => objectTag === '[object RegExp]' && v !== RegExp.prototype && passes(regExpSource, v);
  const isDate = (v, objectTag) => objectTag === '[object Date]' && passes(Date.prototype.getTime, v);
  const isPromise = (v, objectTag) => objectTag === '[object Promise]' || v instanceof Promise;
  const isWeakMap = (v, objectTag) => objectTag === '[object WeakMap]' && v !== WeakMap.prototype && passes(WeakMap.prototype.has, v);
  const isWeakSet = (v, objectTag) => objectTag === '[object WeakSet]' && v !== WeakSet.prototype && passes(WeakSet.prototype.has, v);
  const isError = (v, objectTag) => objectTag === '[object Error]' || v instanceof Error;
  const isArguments = (v, objectTag) => objectTag === '[object Arguments]';
  const boxedTypes = {
    '[object Number]': ['Number', Number.prototype.valueOf],
    '[object String]': ['String', String.prototype.valueOf],
    '[object Boolean]': ['Boolean', Boolean.prototype.valueOf],
    '[object BigInt]': ['BigInt', BigInt.prototype.valueOf],
    '[object Symbol]': ['Symbol', Symbol.prototype.valueOf],
  };
  function boxedKind(v, objectTag) {
    const kind = boxedTypes[objectTag];
    return kind !== undefined && passes(kind[1], v) ? kind : undefined;
  }
  function objectTagOf(v) {
    try {
      return toStringTag.call(v);
    } catch {
      return '[object Object]';
    }
  }

  // Constructors whose default toString `%s` replaces with inspection (the
  // ECMAScript built-ins and the web classes, as in Node).
  const builtinNames = new Set([
    'Object', 'Function', 'Array', 'Number', 'Boolean', 'String', 'Symbol', 'BigInt', 'Date', 'RegExp',
    'Error', 'EvalError', 'RangeError', 'ReferenceError', 'SyntaxError', 'TypeError', 'URIError',
    'AggregateError', 'InternalError', 'SuppressedError', 'Map', 'Set', 'WeakMap', 'WeakSet', 'WeakRef',
    'FinalizationRegistry', 'Promise', 'Proxy', 'ArrayBuffer', 'SharedArrayBuffer', 'DataView', 'Iterator',
    'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array',
    'BigInt64Array', 'BigUint64Array', 'Float16Array', 'Float32Array', 'Float64Array', 'DisposableStack',
    'AsyncDisposableStack', 'DOMException', 'URL', 'URLSearchParams', 'Headers', 'Request', 'Response',
    'TextEncoder', 'TextDecoder', 'Event', 'EventTarget', 'AbortController', 'AbortSignal',
  ]);

  // ---- primitives ---------------------------------------------------------
  const escapes = { '\b': '\\b', '\t': '\\t', '\n': '\\n', '\f': '\\f', '\r': '\\r', '\\': '\\\\' };
  function escapeChar(ch, quote) {
    if (ch === quote) return '\\' + ch;
    if (escapes[ch] !== undefined) return escapes[ch];
    const code = ch.charCodeAt(0);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) {
      return '\\x' + code.toString(16).toUpperCase().padStart(2, '0');
    }
    return '\\u' + code.toString(16);
  }
  const needsEscape = /[\x00-\x1f\x5c\x7f-\x9f']|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
  const escapeAll = /[\x00-\x1f\x5c\x7f-\x9f']|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
  // Single quotes unless the text has some; then double quotes, then backticks.
  function quote(text) {
    let q = "'";
    if (text.includes("'")) {
      if (!text.includes('"')) q = '"';
      else if (!text.includes('`') && !text.includes('${')) q = '`';
    }
    if (needsEscape.test(text)) {
      text = text.replace(escapeAll, (ch) => (ch === "'" && q !== "'" ? ch : escapeChar(ch, q)));
    }
    return q + text + q;
  }

  function formatNumber(n) {
    return Object.is(n, -0) ? '-0' : String(n);
  }

  function formatPrimitive(ctx, value) {
    switch (typeof value) {
      case 'string': {
        let trailer = '';
        if (value.length > ctx.maxStringLength) {
          const remaining = value.length - ctx.maxStringLength;
          value = value.slice(0, ctx.maxStringLength);
          trailer = `... ${remaining} more character${remaining > 1 ? 's' : ''}`;
        }
        if (value.length > 16 && value.length > ctx.breakLength - ctx.indentationLvl - 4) {
          // Long multi-line strings are printed one quoted line per line.
          return (
            value
              .split(/(?<=\n)/)
              .map(quote)
              .join(` +\n${' '.repeat(ctx.indentationLvl + 2)}`) + trailer
          );
        }
        return quote(value) + trailer;
      }
      case 'number':
        return formatNumber(value);
      case 'bigint':
        return `${value}n`;
      case 'boolean':
        return String(value);
      case 'undefined':
        return 'undefined';
      case 'symbol':
        return value.toString();
    }
    return String(value);
  }

  // ---- names ----------------------------------------------------------------
  function constructorName(obj) {
    // Fast path for the common cases, when their constructor is untouched.
    const first = Object.getPrototypeOf(obj);
    if (first === Object.prototype && Object.prototype.constructor === Object) return 'Object';
    if (first === Array.prototype && Array.prototype.constructor === Array) return 'Array';
    let proto = obj;
    while (proto !== null) {
      const descriptor = Object.getOwnPropertyDescriptor(proto, 'constructor');
      if (
        descriptor !== undefined &&
        typeof descriptor.value === 'function' &&
        descriptor.value.name !== '' &&
        isInstance(obj, descriptor.value)
      ) {
        return String(descriptor.value.name);
      }
      proto = Object.getPrototypeOf(proto);
    }
    return null;
  }
  function isInstance(obj, ctor) {
    try {
      return obj instanceof ctor;
    } catch {
      return false;
    }
  }

  function prefix(ctor, tag, fallback, size = '') {
    if (ctor === null) {
      if (tag !== '' && fallback !== tag) return `[${fallback}${size}: null prototype] [${tag}] `;
      return `[${fallback}${size}: null prototype] `;
    }
    if (tag !== '' && ctor !== tag) return `${ctor}${size} [${tag}] `;
    return `${ctor}${size} `;
  }

  const keyIdentifier = /^[a-zA-Z_][a-zA-Z_0-9]*$/;
  function formatKey(key, enumerable) {
    let name;
    if (typeof key === 'symbol') name = `[${key.toString().replace(escapeAll, (ch) => escapeChar(ch, "'"))}]`;
    else if (key === '__proto__') name = "['__proto__']";
    else if (keyIdentifier.test(key)) name = key;
    else name = quote(key);
    return enumerable === false ? `[${name}]` : name;
  }

  function ownKeys(value, showHidden) {
    if (showHidden) {
      return [...Object.getOwnPropertyNames(value), ...Object.getOwnPropertySymbols(value)];
    }
    const keys = Object.keys(value);
    for (const symbol of Object.getOwnPropertySymbols(value)) {
      if (isEnumerable.call(value, symbol)) keys.push(symbol);
    }
    return keys;
  }

  // ---- values -------------------------------------------------------------
  function formatValue(ctx, value, recurseTimes, nested) {
    if (typeof value !== 'object' && typeof value !== 'function') {
      return formatPrimitive(ctx, value);
    }
    if (value === null) return 'null';

    // Format a Proxy's target instead of running its traps.
    const target = host.proxyTarget(value);
    if (target === null) return '<Revoked Proxy>';
    if (target !== undefined) {
      return formatValue(ctx, target, recurseTimes, nested);
    }

    const custom = safeGet(value, customInspect);
    if (typeof custom === 'function' && custom !== inspect && !isPrototypeObject(value)) {
      const depth = ctx.depth - recurseTimes;
      const options = {
        depth,
        breakLength: ctx.breakLength,
        compact: ctx.compact,
        maxArrayLength: ctx.maxArrayLength,
        maxStringLength: ctx.maxStringLength,
        showHidden: ctx.showHidden,
      };
      const result = custom.call(value, depth, options, inspect);
      if (result !== value) {
        if (typeof result !== 'string') return formatValue(ctx, result, recurseTimes);
        return result.replaceAll('\n', `\n${' '.repeat(ctx.indentationLvl)}`);
      }
    }

    if (ctx.seen.includes(value)) {
      if (ctx.circular === null) ctx.circular = new Map();
      let index = ctx.circular.get(value);
      if (index === undefined) {
        index = ctx.circular.size + 1;
        ctx.circular.set(value, index);
      }
      return `[Circular *${index}]`;
    }
    return formatRaw(ctx, value, recurseTimes, nested);
  }

  function safeGet(value, key) {
    try {
      return value[key];
    } catch {
      return undefined;
    }
  }
  function isPrototypeObject(value) {
    const descriptor = Object.getOwnPropertyDescriptor(value, 'constructor');
    return descriptor !== undefined && typeof descriptor.value === 'function' && descriptor.value.prototype === value;
  }

  const kObject = 0;
  const kArray = 1;
  const kArrayExtras = 2;

  function formatRaw(ctx, value, recurseTimes, nested) {
    const ctor = constructorName(value);
    let tag = safeGet(value, Symbol.toStringTag);
    // Only show a tag that is not an own enumerable property (it would print twice).
    if (typeof tag !== 'string' || (tag !== '' && (ctx.showHidden ? hasOwn : isEnumerable).call(value, Symbol.toStringTag))) {
      tag = '';
    }
    const objectTag = objectTagOf(value);
    let keys;
    let base = '';
    let braces;
    let formatter = () => [];
    let extrasType = kObject;

    if (Array.isArray(value)) {
      const pre = ctor !== 'Array' || tag !== '' ? prefix(ctor, tag, 'Array', `(${value.length})`) : '';
      keys = ownKeys(value, ctx.showHidden).filter((key) => !isIndex(key));
      braces = [`${pre}[`, ']'];
      if (value.length === 0 && keys.length === 0) return `${braces[0]}]`;
      extrasType = kArrayExtras;
      formatter = formatArray;
    } else if (isSet(value, objectTag)) {
      const size = setSize.call(value);
      const pre = prefix(ctor, tag, 'Set', `(${size})`);
      keys = ownKeys(value, ctx.showHidden);
      formatter = formatSet;
      if (size === 0 && keys.length === 0) return `${pre}{}`;
      braces = [`${pre}{`, '}'];
    } else if (isMap(value, objectTag)) {
      const size = mapSize.call(value);
      const pre = prefix(ctor, tag, 'Map', `(${size})`);
      keys = ownKeys(value, ctx.showHidden);
      formatter = formatMap;
      if (size === 0 && keys.length === 0) return `${pre}{}`;
      braces = [`${pre}{`, '}'];
    } else if (isTypedArray(value)) {
      const length = typedArrayLength.call(value);
      const fallback = typedArrayTag.call(value);
      keys = ownKeys(value, ctx.showHidden).filter((key) => !isIndex(key));
      braces = [`${prefix(ctor, tag, fallback, `(${length})`)}[`, ']'];
      if (length === 0 && keys.length === 0 && !ctx.showHidden) return `${braces[0]}]`;
      formatter = formatTypedArray;
      extrasType = kArrayExtras;
    } else {
      keys = ownKeys(value, ctx.showHidden);
      braces = ['{', '}'];
      if (typeof value === 'function') {
        base = functionBase(value, ctor, tag);
        if (keys.length === 0) return base;
      } else if (ctor === 'Object') {
        if (isArguments(value, objectTag)) braces[0] = '[Arguments] {';
        else if (tag !== '') braces[0] = `${prefix(ctor, tag, 'Object')}{`;
        if (keys.length === 0) return `${braces[0]}}`;
      } else if (isRegExp(value, objectTag)) {
        base = RegExp.prototype.toString.call(ctor !== null ? value : new RegExp(value));
        const pre = prefix(ctor, tag, 'RegExp');
        if (pre !== 'RegExp ') base = pre + base;
        if (keys.length === 0 || recurseTimes > ctx.depth) return base;
      } else if (isDate(value, objectTag)) {
        base = Number.isNaN(Date.prototype.getTime.call(value))
          ? Date.prototype.toString.call(value)
          : Date.prototype.toISOString.call(value);
        const pre = prefix(ctor, tag, 'Date');
        if (pre !== 'Date ') base = pre + base;
        if (keys.length === 0) return base;
      } else if (isError(value, objectTag)) {
        base = formatError(ctx, value, ctor, tag, keys);
        if (keys.length === 0) return base;
      } else if (isArrayBuffer(value, objectTag) || isSharedArrayBuffer(value, objectTag)) {
        const kind = isArrayBuffer(value, objectTag) ? 'ArrayBuffer' : 'SharedArrayBuffer';
        const pre = prefix(ctor, tag, kind);
        if (!nested) {
          formatter = formatArrayBuffer;
        } else if (keys.length === 0) {
          return `${pre}{ byteLength: ${formatNumber(value.byteLength)} }`;
        }
        braces[0] = `${pre}{`;
        keys.unshift('byteLength');
      } else if (isDataView(value, objectTag)) {
        braces[0] = `${prefix(ctor, tag, 'DataView')}{`;
        keys.unshift('byteLength', 'byteOffset', 'buffer');
      } else if (isPromise(value, objectTag)) {
        braces[0] = `${prefix(ctor, tag, 'Promise')}{`;
        formatter = formatPromise;
      } else if (isWeakSet(value, objectTag)) {
        braces[0] = `${prefix(ctor, tag, 'WeakSet')}{`;
        formatter = () => ['<items unknown>'];
      } else if (isWeakMap(value, objectTag)) {
        braces[0] = `${prefix(ctor, tag, 'WeakMap')}{`;
        formatter = () => ['<items unknown>'];
      } else if (boxedKind(value, objectTag) !== undefined) {
        const [kind, valueOf] = boxedKind(value, objectTag);
        if (kind === 'String') keys = keys.filter((key) => !isIndex(key));
        base = `[${kind}`;
        if (kind !== ctor) base += ctor === null ? ' (null prototype)' : ` (${ctor})`;
        base += `: ${formatPrimitive({ ...ctx, breakLength: Infinity }, valueOf.call(value))}]`;
        if (tag !== '' && tag !== ctor) base += ` [${tag}]`;
        if (keys.length === 0) return base;
      } else {
        const pre = prefix(ctor, tag, 'Object');
        if (keys.length === 0) return `${pre}{}`;
        braces[0] = `${pre}{`;
      }
    }

    if (recurseTimes > ctx.depth) {
      const name = prefix(ctor, tag, 'Object').slice(0, -1);
      return ctor !== null ? `[${name}]` : name;
    }
    recurseTimes += 1;
    ctx.seen.push(value);
    ctx.currentDepth = recurseTimes;
    let output;
    try {
      output = formatter(ctx, value, recurseTimes);
      for (const key of keys) {
        output.push(formatProperty(ctx, value, recurseTimes, key, extrasType));
      }
    } finally {
      ctx.seen.pop();
    }
    const reference = ctx.circular === null ? undefined : ctx.circular.get(value);
    if (reference !== undefined) {
      base = base === '' ? `<ref *${reference}>` : `<ref *${reference}> ${base}`;
    }
    return reduceToSingleString(ctx, output, base, braces, extrasType, recurseTimes, value);
  }

  function isIndex(key) {
    return typeof key === 'string' && /^(0|[1-9][0-9]*)$/.test(key) && Number(key) < 2 ** 32 - 1;
  }

  function functionBase(fn, ctor, tag) {
    let source = '';
    try {
      source = Function.prototype.toString.call(fn);
    } catch {}
    if (host.classes.has(fn) || (source.startsWith('class') && source.endsWith('}'))) {
      const name = (hasOwn.call(fn, 'name') && fn.name) || '(anonymous)';
      let base = `class ${name}`;
      if (ctor !== 'Function' && ctor !== null) base += ` [${ctor}]`;
      if (tag !== '' && ctor !== tag) base += ` [${tag}]`;
      if (ctor !== null) {
        const superName = Object.getPrototypeOf(fn).name;
        if (superName) base += ` extends ${superName}`;
      } else {
        base += ' extends [null prototype]';
      }
      return `[${base}]`;
    }
    let type = 'Function';
    const proto = Object.getPrototypeOf(fn);
    if (proto === AsyncFunctionProto) type = 'AsyncFunction';
    else if (proto === GeneratorFunctionProto) type = 'GeneratorFunction';
    else if (proto === AsyncGeneratorFunctionProto) type = 'AsyncGeneratorFunction';
    let base = `[${type}`;
    if (ctor === null) base += ' (null prototype)';
    const name = safeGet(fn, 'name');
    if (name === '' || name === undefined) base += ' (anonymous)';
    else base += `: ${typeof name === 'string' ? name : formatValue(defaultContext(), name, 0)}`;
    base += ']';
    if (ctor !== type && ctor !== null) base += ` ${ctor}`;
    if (tag !== '' && ctor !== tag) base += ` [${tag}]`;
    return base;
  }

  function formatError(ctx, err, ctor, tag, keys) {
    const name = err.name != null ? String(err.name) : 'Error';
    let stack = errorStack(err);
    // Hide name/message/stack properties already visible in the stack text.
    if (!ctx.showHidden) {
      for (const key of ['name', 'message', 'stack']) {
        const index = keys.indexOf(key);
        if (index !== -1 && (typeof err[key] !== 'string' || stack.includes(err[key]))) keys.splice(index, 1);
      }
    }
    if ('cause' in err && !keys.includes('cause')) keys.push('cause');
    if (Array.isArray(err.errors) && !keys.includes('errors')) keys.push('errors');
    stack = improveStack(stack, ctor, name, tag);

    const message = typeof err.message === 'string' ? err.message : '';
    let pos = (message && stack.indexOf(message)) || -1;
    if (pos !== -1) pos += message.length;
    const framesStart = stack.indexOf('\n    at', pos);
    if (framesStart === -1) stack = `[${stack}]`;
    if (ctx.indentationLvl !== 0) {
      stack = stack.replaceAll('\n', `\n${' '.repeat(ctx.indentationLvl)}`);
    }
    return stack;
  }

  // QuickJS-ng's `stack` holds only the frames; Node's starts with `Name: message`.
  function errorStack(err) {
    let stack;
    try {
      stack = err.stack;
    } catch {}
    const head = errorHead(err);
    if (typeof stack !== 'string' || stack === '') return head;
    if (/^\s+at /.test(stack)) return `${head}\n${stack.replace(/\n$/, '')}`;
    return stack.replace(/\n$/, '');
  }
  function errorHead(err) {
    try {
      return Error.prototype.toString.call(err);
    } catch {
      return '[object Error]';
    }
  }

  function improveStack(stack, ctor, name, tag) {
    let length = name.length;
    if (
      ctor === null ||
      (name.endsWith('Error') &&
        stack.startsWith(name) &&
        (stack.length === length || stack[length] === ':' || stack[length] === '\n'))
    ) {
      let fallback = 'Error';
      if (ctor === null) {
        const start = /^([A-Z][a-z_ A-Z0-9[\]()-]+)(?::|\n {4}at)/.exec(stack) || /^([a-z_A-Z0-9-]*Error)$/.exec(stack);
        fallback = (start && start[1]) || '';
        length = fallback.length;
        fallback = fallback || 'Error';
      }
      const pre = prefix(ctor, tag, fallback).slice(0, -1);
      if (name !== pre) {
        if (pre.includes(name)) {
          stack = length === 0 ? `${pre}: ${stack}` : `${pre}${stack.slice(length)}`;
        } else {
          stack = `${pre} [${name}]${stack.slice(length)}`;
        }
      }
    }
    return stack;
  }

  function formatArray(ctx, value, recurseTimes) {
    const length = value.length;
    const shown = Math.min(Math.max(0, ctx.maxArrayLength), length);
    const output = [];
    let index = 0;
    // Holes become `<N empty items>`. Most holes are short: the next few
    // indices are looked at one by one, and past those the hole's end is the
    // next of the array's own indices (a walk index by index would take as
    // long as the array is long, and `a.length = 2 ** 32 - 1` is one
    // statement).
    let indices;
    let after = 0;
    const nextOwnIndex = (from) => {
      indices ??= ownIndices(value);
      while (after < indices.length && indices[after] < from) after++;
      return after < indices.length ? Math.min(indices[after], length) : length;
    };
    while (index < length && output.length < shown) {
      if (hasOwn.call(value, index)) {
        output.push(formatProperty(ctx, value, recurseTimes, index, kArray));
        index++;
        continue;
      }
      const near = Math.min(length, index + 64);
      let next = index + 1;
      while (next < near && !hasOwn.call(value, next)) next++;
      if (next === near && next < length) next = nextOwnIndex(next);
      const empty = next - index;
      output.push(`<${empty} empty item${empty > 1 ? 's' : ''}>`);
      index = next;
    }
    const remaining = length - index;
    if (remaining > 0) output.push(moreItems(remaining));
    return output;
  }

  /** The array's own indices, ascending. */
  function ownIndices(array) {
    const indices = [];
    let ascending = true;
    for (const key of Object.getOwnPropertyNames(array)) {
      if (!isIndex(key)) continue;
      const index = Number(key);
      if (indices.length > 0 && index < indices[indices.length - 1]) ascending = false;
      indices.push(index);
    }
    // An array lists its indices in order; a proxy's `ownKeys` need not.
    return ascending ? indices : indices.sort((a, b) => a - b);
  }

  function moreItems(remaining) {
    return `... ${remaining} more item${remaining > 1 ? 's' : ''}`;
  }

  function formatTypedArray(ctx, value, recurseTimes) {
    const length = typedArrayLength.call(value);
    const shown = Math.min(Math.max(0, ctx.maxArrayLength), length);
    const output = [];
    for (let i = 0; i < shown; i++) {
      const element = value[i];
      output.push(typeof element === 'bigint' ? `${element}n` : formatNumber(element));
    }
    if (length > shown) output.push(moreItems(length - shown));
    if (ctx.showHidden) {
      ctx.indentationLvl += 2;
      for (const key of ['BYTES_PER_ELEMENT', 'length', 'byteLength', 'byteOffset', 'buffer']) {
        output.push(`[${key}]: ${formatValue(ctx, value[key], recurseTimes, true)}`);
      }
      ctx.indentationLvl -= 2;
    }
    return output;
  }

  function formatSet(ctx, value, recurseTimes) {
    const output = [];
    const shown = Math.max(0, ctx.maxArrayLength);
    ctx.indentationLvl += 2;
    let count = 0;
    for (const entry of Set.prototype.values.call(value)) {
      if (count >= shown) break;
      output.push(formatValue(ctx, entry, recurseTimes));
      count++;
    }
    ctx.indentationLvl -= 2;
    const size = setSize.call(value);
    if (size > count) output.push(moreItems(size - count));
    return output;
  }

  function formatMap(ctx, value, recurseTimes) {
    const output = [];
    const shown = Math.max(0, ctx.maxArrayLength);
    ctx.indentationLvl += 2;
    let count = 0;
    for (const [key, entry] of Map.prototype.entries.call(value)) {
      if (count >= shown) break;
      output.push(`${formatValue(ctx, key, recurseTimes)} => ${formatValue(ctx, entry, recurseTimes)}`);
      count++;
    }
    ctx.indentationLvl -= 2;
    const size = mapSize.call(value);
    if (size > count) output.push(moreItems(size - count));
    return output;
  }

  function formatArrayBuffer(ctx, value) {
    let bytes;
    try {
      bytes = new Uint8Array(value);
    } catch {
      return ['(detached)'];
    }
    const shown = Math.min(ctx.maxArrayLength, bytes.length);
    let hex = '';
    for (let i = 0; i < shown; i++) hex += (i === 0 ? '' : ' ') + bytes[i].toString(16).padStart(2, '0');
    const remaining = bytes.length - shown;
    if (remaining > 0) hex += ` ... ${remaining} more byte${remaining > 1 ? 's' : ''}`;
    return [`[Uint8Contents]: <${hex}>`];
  }

  function formatPromise(ctx, value, recurseTimes) {
    const [state, result] = host.promiseState(value);
    if (state === 'pending') return ['<pending>'];
    ctx.indentationLvl += 2;
    const text = formatValue(ctx, result, recurseTimes);
    ctx.indentationLvl -= 2;
    return [state === 'rejected' ? `<rejected> ${text}` : text];
  }

  function formatProperty(ctx, value, recurseTimes, key, type) {
    let descriptor = Object.getOwnPropertyDescriptor(value, key);
    if (descriptor === undefined) descriptor = { value: value[key], enumerable: true };
    let text;
    if (descriptor.value !== undefined) {
      ctx.indentationLvl += 2;
      text = formatValue(ctx, descriptor.value, recurseTimes);
      ctx.indentationLvl -= 2;
    } else if (descriptor.get !== undefined) {
      text = descriptor.set !== undefined ? '[Getter/Setter]' : '[Getter]';
    } else if (descriptor.set !== undefined) {
      text = '[Setter]';
    } else {
      text = 'undefined';
    }
    if (type === kArray) return text;
    return `${formatKey(key, descriptor.enumerable)}: ${text}`;
  }

  // ---- layout ---------------------------------------------------------------
  function isBelowBreakLength(ctx, output, start, base) {
    let total = output.length + start;
    if (total + output.length > ctx.breakLength) return false;
    for (const entry of output) {
      total += entry.length;
      if (total > ctx.breakLength) return false;
    }
    return base === '' || !base.includes('\n');
  }

  function reduceToSingleString(ctx, output, base, braces, extrasType, recurseTimes, value) {
    const entries = output.length;
    if (extrasType === kArrayExtras && entries > 6) {
      output = groupArrayElements(ctx, output, value);
    }
    // Objects whose nesting below is shallow enough (`compact` levels) are
    // kept on one line when they fit in `breakLength`.
    if (ctx.currentDepth - recurseTimes < ctx.compact && entries === output.length) {
      const start = output.length + ctx.indentationLvl + braces[0].length + base.length + 10;
      if (isBelowBreakLength(ctx, output, start, base)) {
        const joined = output.join(', ');
        if (!joined.includes('\n')) {
          return `${base ? `${base} ` : ''}${braces[0]} ${joined} ${braces[1]}`;
        }
      }
    }
    const indentation = `\n${' '.repeat(ctx.indentationLvl)}`;
    return `${base ? `${base} ` : ''}${braces[0]}${indentation}  ${output.join(`,${indentation}  `)}${indentation}${braces[1]}`;
  }

  // Arrays of more than six short entries are laid out in aligned columns.
  function groupArrayElements(ctx, output, value) {
    let totalLength = 0;
    let maxLength = 0;
    let outputLength = output.length;
    if (ctx.maxArrayLength < output.length) outputLength--; // leave "... more items" alone
    const separatorSpace = 2;
    const dataLength = new Array(outputLength);
    for (let i = 0; i < outputLength; i++) {
      const length = output[i].length;
      dataLength[i] = length;
      totalLength += length + separatorSpace;
      if (maxLength < length) maxLength = length;
    }
    const actualMax = maxLength + separatorSpace;
    if (actualMax * 3 + ctx.indentationLvl < ctx.breakLength && (totalLength / actualMax > 5 || maxLength <= 6)) {
      const averageBias = Math.sqrt(actualMax - totalLength / output.length);
      const biasedMax = Math.max(actualMax - 3 - averageBias, 1);
      const columns = Math.min(
        Math.round(Math.sqrt(2.5 * biasedMax * outputLength) / biasedMax),
        Math.floor((ctx.breakLength - ctx.indentationLvl) / actualMax),
        ctx.compact * 4,
        15,
      );
      if (columns <= 1) return output;
      const maxLineLength = [];
      for (let i = 0; i < columns; i++) {
        let lineMax = 0;
        for (let j = i; j < output.length; j += columns) {
          if (dataLength[j] > lineMax) lineMax = dataLength[j];
        }
        maxLineLength.push(lineMax + separatorSpace);
      }
      let padStart = value !== undefined;
      if (padStart) {
        for (let i = 0; i < output.length; i++) {
          if (typeof value[i] !== 'number' && typeof value[i] !== 'bigint') {
            padStart = false;
            break;
          }
        }
      }
      const grouped = [];
      for (let i = 0; i < outputLength; i += columns) {
        const max = Math.min(i + columns, outputLength);
        let line = '';
        let j = i;
        for (; j < max - 1; j++) {
          const cell = `${output[j]}, `;
          line += padStart ? cell.padStart(maxLineLength[j - i]) : cell.padEnd(maxLineLength[j - i]);
        }
        line += padStart ? output[j].padStart(maxLineLength[j - i] - separatorSpace) : output[j];
        grouped.push(line);
      }
      if (ctx.maxArrayLength < output.length) grouped.push(output[outputLength]);
      return grouped;
    }
    return output;
  }

  // ---- entry points -----------------------------------------------------------
  function defaultContext(options) {
    const ctx = {
      depth: defaults.depth,
      breakLength: defaults.breakLength,
      compact: defaults.compact,
      maxArrayLength: defaults.maxArrayLength,
      maxStringLength: defaults.maxStringLength,
      showHidden: defaults.showHidden,
      indentationLvl: 0,
      currentDepth: 0,
      seen: [],
      circular: null, // value → reference number, made on the first cycle
    };
    if (options !== undefined && options !== null && typeof options === 'object') {
      for (const key of Object.keys(defaults)) {
        if (options[key] !== undefined) ctx[key] = options[key];
      }
      if (options.depth === null) ctx.depth = Infinity;
      if (options.maxArrayLength === null) ctx.maxArrayLength = Infinity;
      if (options.maxStringLength === null) ctx.maxStringLength = Infinity;
    }
    return ctx;
  }

  function inspect(value, options) {
    return formatValue(defaultContext(options), value, 0);
  }
  inspect.custom = customInspect;

  // True when `String(value)` would print a built-in's default text, in which
  // case `%s` inspects the value instead.
  function hasBuiltInToString(value) {
    const target = host.proxyTarget(value);
    if (target === null) return true;
    if (target !== undefined) value = target;
    if (typeof value.toString !== 'function' && typeof value[Symbol.toPrimitive] !== 'function') return true;
    if (hasOwn.call(value, 'toString') || hasOwn.call(value, Symbol.toPrimitive)) return false;
    let pointer = value;
    do {
      pointer = Object.getPrototypeOf(pointer);
    } while (pointer !== null && !hasOwn.call(pointer, 'toString') && !hasOwn.call(pointer, Symbol.toPrimitive));
    if (pointer === null) return true;
    const descriptor = Object.getOwnPropertyDescriptor(pointer, 'constructor');
    return descriptor !== undefined && typeof descriptor.value === 'function' && builtinNames.has(descriptor.value.name);
  }

  function stringify(value) {
    try {
      return String(JSON.stringify(value));
    } catch (error) {
      if (error instanceof TypeError && /circular/i.test(String(error.message))) return '[Circular]';
      throw error;
    }
  }

  // Lone surrogates cannot leave as UTF-8; they print as U+FFFD (as Node's stdout does).
  const toWellFormed = String.prototype.toWellFormed;
  function formatArgs(args) {
    return toWellFormed.call(formatArgsRaw(args));
  }
  function formatArgsRaw(args) {
    const first = args[0];
    let a = 0;
    let out = '';
    let join = '';
    if (typeof first === 'string') {
      if (args.length === 1) return first;
      let lastPos = 0;
      let piece;
      for (let i = 0; i < first.length - 1; i++) {
        if (first.charCodeAt(i) !== 37) continue; // '%'
        const next = first[++i];
        if (a + 1 !== args.length) {
          switch (next) {
            case 's': {
              const arg = args[++a];
              if (typeof arg === 'number') piece = formatNumber(arg);
              else if (typeof arg === 'bigint') piece = `${arg}n`;
              else if (typeof arg !== 'object' || arg === null || !hasBuiltInToString(arg)) piece = String(arg);
              else piece = inspect(arg, { depth: 0 });
              break;
            }
            case 'j':
              piece = stringify(args[++a]);
              break;
            case 'd': {
              const arg = args[++a];
              if (typeof arg === 'bigint') piece = `${arg}n`;
              else if (typeof arg === 'symbol') piece = 'NaN';
              else piece = formatNumber(Number(arg));
              break;
            }
            case 'O':
              piece = inspect(args[++a]);
              break;
            case 'o':
              piece = inspect(args[++a], { showHidden: true, depth: 4 });
              break;
            case 'i': {
              const arg = args[++a];
              if (typeof arg === 'bigint') piece = `${arg}n`;
              else if (typeof arg === 'symbol') piece = 'NaN';
              else piece = formatNumber(Number.parseInt(arg));
              break;
            }
            case 'f': {
              const arg = args[++a];
              piece = typeof arg === 'symbol' ? 'NaN' : formatNumber(Number.parseFloat(arg));
              break;
            }
            case 'c':
              a++;
              piece = '';
              break;
            case '%':
              out += first.slice(lastPos, i);
              lastPos = i + 1;
              continue;
            default:
              continue;
          }
          if (lastPos !== i - 1) out += first.slice(lastPos, i - 1);
          out += piece;
          lastPos = i + 1;
        } else if (next === '%') {
          out += first.slice(lastPos, i);
          lastPos = i + 1;
        }
      }
      if (lastPos !== 0) {
        a++;
        join = ' ';
        if (lastPos < first.length) out += first.slice(lastPos);
      }
    }
    while (a < args.length) {
      const value = args[a];
      out += join;
      out += typeof value !== 'string' ? inspect(value) : value;
      join = ' ';
      a++;
    }
    return out;
  }

  return { formatArgs, inspect };
}
