// Readers for untrusted plain JSON (what the API server or a manifest file gives us).
// Each returns undefined for a value of the wrong shape instead of throwing.

export type JsonObject = Readonly<Record<string, unknown>>;

export function asObject(value: unknown): JsonObject | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonObject) : undefined;
}

export function asArray(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

export function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function asInteger(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) ? value : undefined;
}

export function asBoolean(value: unknown): boolean | undefined {
  return typeof value === 'boolean' ? value : undefined;
}

const EMPTY_LIST: readonly never[] = Object.freeze([]);
const EMPTY_MAP: Readonly<Record<string, string>> = Object.freeze(Object.create(null) as Record<string, string>);

/**
 * The list itself, or one shared frozen empty list for an empty one: records are frozen, and
 * at 10,000 objects of each kind their empty lists (no TLS, no external IPs, no status) were
 * tens of thousands of arrays.
 */
export function listOrEmpty<T>(list: T[]): readonly T[] {
  return list.length === 0 ? EMPTY_LIST : list;
}

/** string map with non-string values dropped; null prototype because keys come from users. */
export function asStringMap(value: unknown): Readonly<Record<string, string>> {
  const object = asObject(value);
  if (!object) return EMPTY_MAP;
  const out: Record<string, string> = Object.create(null);
  let empty = true;
  for (const [key, entry] of Object.entries(object)) {
    if (typeof entry === 'string') {
      out[key] = entry;
      empty = false;
    }
  }
  return empty ? EMPTY_MAP : Object.freeze(out);
}

const interned = new Map<string, string>();
const MAX_INTERNED = 4096;

/**
 * One copy of a short value that thousands of records repeat (a namespace, a protocol, a
 * pathType, a port name): every parsed document brings its own copy otherwise. Bounded, so
 * values that do not repeat cannot grow it without end; past the bound values are kept as
 * they come.
 */
export function internString(value: string | undefined): string | undefined {
  if (value === undefined || value.length > 64) return value;
  const known = interned.get(value);
  if (known !== undefined) return known;
  if (interned.size < MAX_INTERNED) interned.set(value, value);
  return value;
}

/** Recursively freezes plain data so a record cannot change under a table that holds it. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const entry of Object.values(value)) deepFreeze(entry);
  }
  return value;
}
