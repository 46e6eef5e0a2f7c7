// Makes long-running built-ins stop with the run. Evaluated before the script.
//
// QuickJS polls its interrupt handler only every ~10,000 calls or loop
// back-edges, and a built-in that neither calls back into JavaScript nor
// makes a large allocation never notices a deadline: `while (true)
// bytes.fill(1)` on a large array would run thousands of long calls past it.
// Each wrapper below first asks `stopped()` (the run's guard) and throws once
// the run is over, so such a loop ends at its next call (a script that
// catches the error spins until the interrupt handler, which it cannot catch,
// ends it). One call still runs to its end: at the default memory limit a
// sort of the largest typed array takes seconds. String searches are checked
// only on long strings, so ordinary calls stay about as fast as before.
//
// The wrappers are methods named like the built-ins (no `prototype`, not
// constructors) and, assigned in place, stay non-enumerable; their `length`
// is not the built-ins' (fixing it costs a shape change per function, on
// every run).
export default function harden(stopped) {
  const apply = Reflect.apply;
  const call = Function.prototype.call;
  const TypedArray = Object.getPrototypeOf(Int8Array.prototype);
  const LARGE = 65536;

  function stopIfOver() {
    if (stopped()) throw new RangeError('the run has been stopped');
  }

  // Bulk operations on arrays: checked on every call (`arguments` keeps the
  // argument count, which `lastIndexOf` depends on).
  function guard(proto, name) {
    const native = proto[name];
    proto[name] = {
      [name]() {
        stopIfOver();
        return apply(native, this, arguments);
      },
    }[name];
  }

  // String searches: checked only on long strings; the optional position
  // means the same whether omitted or undefined.
  function guardSearch(name) {
    const native = String.prototype[name];
    const invoke = call.bind(native);
    String.prototype[name] = {
      [name](search, position) {
        if (typeof this !== 'string' || this.length >= LARGE) stopIfOver();
        return invoke(this, search, position);
      },
    }[name];
  }

  const bulk = ['fill', 'copyWithin', 'set', 'indexOf', 'lastIndexOf', 'includes', 'reverse', 'sort', 'toSorted'];
  for (const name of bulk) guard(TypedArray, name);
  for (const name of ['fill', 'copyWithin', 'reverse', 'sort', 'toSorted']) guard(Array.prototype, name);
  for (const name of ['indexOf', 'lastIndexOf', 'includes']) guardSearch(name);
}
