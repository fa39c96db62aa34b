// Regex paths (ROUTING.md section 3): anchored at the start, case-insensitive, RE2 semantics.
// We use the `re2` binding rather than V8's experimental linear engine: V8's `l` flag refuses
// the `i` flag outright (checked on Node 24), and case-insensitive matching is the contract.
// RE2 guarantees linear time; patterns that need backtracking (backreferences, lookaround)
// do not compile in RE2 and are rejected per path.

import RE2 from 're2';
import type { PathPattern } from '../routing/route-table.ts';
import { MAX_PATH_LENGTH } from './validate-path.ts';

export type PatternCheck =
  | { readonly ok: true; readonly pattern: PathPattern; readonly groupCount: number }
  | { readonly ok: false; readonly code: 'InvalidRegex' | 'BacktrackingRegex'; readonly reason: string };

export function compilePathPattern(path: string): PatternCheck {
  if (path.length > MAX_PATH_LENGTH) {
    return { ok: false, code: 'InvalidRegex', reason: `regex path is longer than ${MAX_PATH_LENGTH} characters` };
  }
  if (!path.startsWith('/')) {
    return { ok: false, code: 'InvalidRegex', reason: `regex path ${JSON.stringify(path)} does not start with /` };
  }
  let compiled: RE2;
  try {
    // The non-capturing group keeps `^` in front of every alternative and the group numbers.
    compiled = new RE2(`^(?:${path})`, 'i');
  } catch (error) {
    return explainRejection(path, error);
  }
  const groupCount = countGroups(compiled);
  const pattern: PathPattern = Object.freeze({
    source: path,
    exec(candidate: string) {
      const found = compiled.exec(candidate);
      return found ? Array.from(found, (group) => group as string | undefined) : null;
    },
  });
  return { ok: true, pattern, groupCount };
}

function explainRejection(path: string, error: unknown): PatternCheck {
  const detail = error instanceof Error ? error.message : String(error);
  let backtrackingOnly = false;
  try {
    // Construction only, never execution: tells "valid but needs backtracking" from "invalid".
    new RegExp(path);
    backtrackingOnly = true;
  } catch {
    backtrackingOnly = false;
  }
  return backtrackingOnly
    ? {
        ok: false,
        code: 'BacktrackingRegex',
        reason: `regex path ${JSON.stringify(path)} needs backtracking (backreferences or lookaround), which Portico refuses so matching stays linear-time (${detail})`,
      }
    : { ok: false, code: 'InvalidRegex', reason: `regex path ${JSON.stringify(path)} does not compile: ${detail}` };
}

function countGroups(compiled: RE2): number {
  // With an extra empty alternative the pattern always matches '', and exec reports
  // every capturing group (unmatched ones as undefined): its length is groups + 1.
  const probe = new RE2(`${compiled.source}|`, compiled.flags);
  const found = probe.exec('');
  return found ? found.length - 1 : 0;
}
