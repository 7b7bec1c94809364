/**
 * Canonical JSON: the byte-exact form used for config hashes and signatures
 * (docs/config.md, "Canonical JSON").
 *
 * - object keys sorted by UTF-16 code unit order (Array.prototype.sort's default order);
 * - no whitespace;
 * - strings and numbers formatted by JSON.stringify (so -0 is "0", 1e21 is "1e+21");
 * - object properties whose value is undefined are omitted (as JSON.stringify does);
 * - RangeError on: non-finite numbers, cycles, nesting deeper than CANONICAL_MAX_DEPTH,
 *   and values that are not plain JSON data (undefined at top level or in an array, functions,
 *   symbols, bigints, class instances such as Date/Map, accessor properties, sparse arrays).
 *
 * XS-clean: ES2022 built-ins only.
 */

/** Deepest nesting of arrays/objects accepted (the root container is depth 1). */
export const CANONICAL_MAX_DEPTH = 64;

function isPlainObject(v: object): boolean {
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

function write(v: unknown, stack: object[], out: string[]): void {
  if (v === null) {
    out.push("null");
    return;
  }
  switch (typeof v) {
    case "boolean":
      out.push(v ? "true" : "false");
      return;
    case "string":
      out.push(JSON.stringify(v));
      return;
    case "number":
      if (!Number.isFinite(v)) throw new RangeError(`canonicalJson: non-finite number ${String(v)}`);
      out.push(JSON.stringify(v));
      return;
    case "object":
      break;
    default:
      throw new RangeError(`canonicalJson: ${typeof v} is not JSON data`);
  }
  const o = v as object;
  if (stack.indexOf(o) >= 0) throw new RangeError("canonicalJson: cycle");
  if (stack.length >= CANONICAL_MAX_DEPTH) throw new RangeError(`canonicalJson: nesting deeper than ${CANONICAL_MAX_DEPTH}`);
  stack.push(o);
  if (Array.isArray(o)) {
    if (Object.getPrototypeOf(o) !== Array.prototype) throw new RangeError("canonicalJson: array subclass");
    out.push("[");
    for (let i = 0; i < o.length; i++) {
      if (i > 0) out.push(",");
      const d = Object.getOwnPropertyDescriptor(o, i);
      if (d === undefined) throw new RangeError(`canonicalJson: sparse array (hole at ${i})`);
      if (!("value" in d)) throw new RangeError("canonicalJson: accessor property");
      if (d.value === undefined) throw new RangeError(`canonicalJson: undefined at array index ${i}`);
      write(d.value, stack, out);
    }
    out.push("]");
  } else {
    if (!isPlainObject(o)) throw new RangeError("canonicalJson: not a plain object");
    const keys = Object.keys(o).sort(); // default sort: UTF-16 code unit order
    out.push("{");
    let first = true;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      const d = Object.getOwnPropertyDescriptor(o, k)!;
      if (!("value" in d)) throw new RangeError(`canonicalJson: accessor property ${JSON.stringify(k)}`);
      if (d.value === undefined) continue;
      if (!first) out.push(",");
      first = false;
      out.push(JSON.stringify(k), ":");
      write(d.value, stack, out);
    }
    out.push("}");
  }
  stack.pop();
}

/** Deterministic JSON text of `value` (see the module comment for the exact rules). */
export function canonicalJson(value: unknown): string {
  if (value === undefined) throw new RangeError("canonicalJson: undefined is not JSON data");
  const out: string[] = [];
  write(value, [], out);
  return out.join("");
}
