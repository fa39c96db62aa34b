// Compile returns every diagnostic on every build; people want each problem said once.
// The tracker compares one build's diagnostics with the previous build's and reports what
// appeared and what went away. A problem that is fixed and later comes back is new again.

import type { Diagnostic } from '../model/diagnostic.ts';

export interface DiagnosticChanges {
  readonly appeared: readonly Diagnostic[];
  readonly resolved: readonly Diagnostic[];
  /** how many diagnostics the latest build has, per code */
  readonly countsByCode: ReadonlyMap<string, number>;
}

function identityOf(diagnostic: Diagnostic): string {
  return `${diagnostic.object}\u0000${diagnostic.code}\u0000${diagnostic.reason}`;
}

export interface DiagnosticTracker {
  update(diagnostics: readonly Diagnostic[]): DiagnosticChanges;
}

export function createDiagnosticTracker(): DiagnosticTracker {
  let current = new Map<string, Diagnostic>();
  return {
    update(diagnostics) {
      const next = new Map<string, Diagnostic>();
      const countsByCode = new Map<string, number>();
      const appeared: Diagnostic[] = [];
      for (const diagnostic of diagnostics) {
        const identity = identityOf(diagnostic);
        if (next.has(identity)) continue;
        next.set(identity, diagnostic);
        countsByCode.set(diagnostic.code, (countsByCode.get(diagnostic.code) ?? 0) + 1);
        if (!current.has(identity)) appeared.push(diagnostic);
      }
      const resolved = [...current].filter(([identity]) => !next.has(identity)).map(([, diagnostic]) => diagnostic);
      current = next;
      return { appeared, resolved, countsByCode };
    },
  };
}
