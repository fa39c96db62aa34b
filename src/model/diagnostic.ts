// A diagnostic is data: compile collects them, and the edges turn them into log lines,
// Kubernetes Events and `portico explain` output. Never thrown.

export interface Diagnostic {
  /** `Kind ns/name` of the object at fault, e.g. `Ingress default/web`. */
  readonly object: string;
  /** Stable CamelCase code, used as the Event reason. */
  readonly code: string;
  /** One readable sentence saying what is wrong and what Portico did about it. */
  readonly reason: string;
}

export function describeObject(kind: string, key: string): string {
  return `${kind} ${key}`;
}
