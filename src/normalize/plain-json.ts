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

/** string map with non-string values dropped; null prototype because keys come from users. */
export function asStringMap(value: unknown): Readonly<Record<string, string>> {
  const out: Record<string, string> = Object.create(null);
  const object = asObject(value);
  if (object) {
    for (const [key, entry] of Object.entries(object)) {
      if (typeof entry === 'string') out[key] = entry;
    }
  }
  return Object.freeze(out);
}

/** Recursively freezes plain data so a record cannot change under a table that holds it. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const entry of Object.values(value)) deepFreeze(entry);
  }
  return value;
}
