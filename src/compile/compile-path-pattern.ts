// Regex paths (ROUTING.md section 3): anchored at the start, case-insensitive, RE2 semantics.
// We use the `re2` binding rather than V8's experimental linear engine: V8's `l` flag refuses
// the `i` flag outright (checked on Node 24), and case-insensitive matching is the contract.
// RE2 guarantees linear time; patterns that need backtracking (backreferences, lookaround)
// do not compile in RE2 and are rejected per path.

import RE2 from 're2';
import type { PathPattern } from '../routing/route-table.ts';
import { countCaptureGroups } from './count-capture-groups.ts';
import { MAX_PATH_LENGTH } from './validate-path.ts';

export type PatternCheck =
  | { readonly ok: true; readonly pattern: PathPattern; readonly groupCount: number }
  | { readonly ok: false; readonly code: 'InvalidRegex' | 'BacktrackingRegex'; readonly reason: string };

// RE2 compilation dominates compile time (about 100 µs a pattern). The result depends only on
// the path string and is immutable, so it is memoized: a rebuild pays only for new patterns.
const MEMO_LIMIT = 50_000;
const memo = new Map<string, PatternCheck>();

export function compilePathPattern(path: string): PatternCheck {
  const known = memo.get(path);
  if (known) return known;
  const checked = compileUncached(path);
  if (memo.size >= MEMO_LIMIT) memo.clear();
  memo.set(path, checked);
  return checked;
}

function compileUncached(path: string): PatternCheck {
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
  const groupCount = countCaptureGroups(path);
  const pattern: PathPattern = Object.freeze({
    source: path,
    exec(candidate: string) {
      const found = compiled.exec(candidate);
      return found ? Array.from(found, (group) => group as string | undefined) : null;
    },
  });
  return Object.freeze({ ok: true, pattern, groupCount });
}

function explainRejection(path: string, error: unknown): PatternCheck {
  const detail = error instanceof Error ? error.message : String(error);
  let backtrackingOnly: boolean;
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
