// Summary of a V8 `.cpuprofile` (what `node --cpu-prof` writes): self time by function, by
// file or package, and the time inside each of Portico's own functions including what they
// call. The profile is a call tree; `samples[i]` is the node on top of the stack at sample i
// and `timeDeltas[i + 1]` the time until the next sample, which is how DevTools reads it.

import { fileURLToPath } from 'node:url';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

interface CpuProfile {
  /** microseconds on the monotonic clock, the one `process.hrtime` reads */
  readonly startTime: number;
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileRow {
  readonly label: string;
  readonly ms: number;
  /** share of the busy time (all samples but `(idle)`) */
  readonly share: number;
}

export interface ProfileSummary {
  /** false: no sample fell in the window asked for, so the whole profile was summarized */
  readonly windowed: boolean;
  readonly totalMs: number;
  readonly idleMs: number;
  readonly selfByFunction: readonly ProfileRow[];
  readonly selfByArea: readonly ProfileRow[];
  /** coarse: Portico, undici, Node's HTTP and streams, socket-write syscalls, GC, ... */
  readonly selfByLayer: readonly ProfileRow[];
  /** Portico's own functions (`src/`), time including their callees */
  readonly totalByPorticoFunction: readonly ProfileRow[];
}

function isCpuProfile(value: unknown): value is CpuProfile {
  const candidate = value as Partial<CpuProfile> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.startTime === 'number' &&
    Array.isArray(candidate.nodes) &&
    Array.isArray(candidate.samples) &&
    Array.isArray(candidate.timeDeltas)
  );
}

/** `src/proxy/forward-request.ts`, `node_modules/undici/lib/…`, `node:_http_server`, or '' */
function locationOf(url: string, repoRoot: string): string {
  if (url === '') return '';
  if (!url.startsWith('file://')) return url;
  const path = fileURLToPath(url);
  const inModules = path.indexOf('/node_modules/');
  if (inModules >= 0) return path.slice(inModules + 1);
  return path.startsWith(`${repoRoot}/`) ? path.slice(repoRoot.length + 1) : path;
}

function functionLabel(frame: CallFrame, repoRoot: string): string {
  const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
  const location = locationOf(frame.url, repoRoot);
  return location === '' ? name : `${name}  ${location}:${frame.lineNumber + 1}`;
}

/** Portico files by file; packages by name (scoped ones included); Node's own modules by module. */
function areaLabel(frame: CallFrame, repoRoot: string): string {
  const location = locationOf(frame.url, repoRoot);
  if (location === '') return frame.functionName.startsWith('(') ? frame.functionName : '(V8 builtins and native code)';
  const modules = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(location);
  if (modules?.[1] !== undefined) {
    // The last node_modules segment names the package that owns the code.
    const nested = location.split('node_modules/').at(-1) ?? location;
    const owner = /^((?:@[^/]+\/)?[^/]+)/.exec(nested)?.[1] ?? modules[1];
    return `${owner} (package)`;
  }
  return location;
}

/** Native functions that are socket writes: the syscall, and with it the loopback receiver's TCP work. */
const SOCKET_WRITES: ReadonlySet<string> = new Set([
  'writev',
  'writeBuffer',
  'writeLatin1String',
  'writeUtf8String',
  'writeAsciiString',
  'writeUcs2String',
]);

function layerLabel(frame: CallFrame, repoRoot: string): string {
  const location = locationOf(frame.url, repoRoot);
  if (location === '') {
    if (SOCKET_WRITES.has(frame.functionName)) return 'socket writes (syscalls, native)';
    if (frame.functionName === '(garbage collector)') return 'garbage collector';
    if (frame.functionName.startsWith('(')) return frame.functionName;
    return 'other V8 builtins and native code';
  }
  if (location.startsWith('src/')) return 'Portico (src/)';
  if (location.startsWith('wasm://')) return 'undici (package)'; // llhttp, undici's HTTP/1 parser
  if (location.startsWith('node:')) return "Node's own modules (http, net, streams, timers, …)";
  return areaLabel(frame, repoRoot);
}

function rows(totals: Map<string, number>, busyMs: number, limit: number): ProfileRow[] {
  return [...totals]
    .map(([label, ms]) => ({ label, ms, share: busyMs > 0 ? ms / busyMs : 0 }))
    .sort((left, right) => right.ms - left.ms)
    .slice(0, limit);
}

/** A stretch of the profile in monotonic microseconds (`process.hrtime.bigint() / 1000n`). */
export interface ProfileWindow {
  readonly fromUs: number;
  readonly toUs: number;
}

/**
 * `window` keeps only the samples taken within it (the measured load, not start-up and
 * warm-up); without it, or if no sample falls in it, the whole profile counts.
 */
export function summarizeCpuProfile(
  raw: unknown,
  repoRoot: string,
  window?: ProfileWindow,
  limit = 25,
): ProfileSummary {
  if (!isCpuProfile(raw)) throw new Error('not a V8 .cpuprofile');
  const byId = new Map(raw.nodes.map((node) => [node.id, node]));
  const selfTimes = (from: number, to: number): Map<number, number> => {
    const selfMs = new Map<number, number>();
    let at = raw.startTime;
    for (let index = 0; index < raw.samples.length; index += 1) {
      at += raw.timeDeltas[index] ?? 0;
      if (at < from || at > to) continue;
      const id = raw.samples[index] as number;
      const deltaUs = raw.timeDeltas[index + 1] ?? 0;
      selfMs.set(id, (selfMs.get(id) ?? 0) + deltaUs / 1000);
    }
    return selfMs;
  };
  let selfMs = window === undefined ? new Map<number, number>() : selfTimes(window.fromUs, window.toUs);
  const windowed = selfMs.size > 0;
  if (!windowed) selfMs = selfTimes(Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY);

  let totalMs = 0;
  let idleMs = 0;
  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  const byLayer = new Map<string, number>();
  for (const [id, ms] of selfMs) {
    const node = byId.get(id);
    if (node === undefined) continue;
    totalMs += ms;
    if (node.callFrame.functionName === '(idle)') idleMs += ms;
    const label = functionLabel(node.callFrame, repoRoot);
    byFunction.set(label, (byFunction.get(label) ?? 0) + ms);
    const area = areaLabel(node.callFrame, repoRoot);
    byArea.set(area, (byArea.get(area) ?? 0) + ms);
    const layer = layerLabel(node.callFrame, repoRoot);
    byLayer.set(layer, (byLayer.get(layer) ?? 0) + ms);
  }
  const busyMs = totalMs - idleMs;
  byFunction.delete('(idle)');
  byArea.delete('(idle)');
  byLayer.delete('(idle)');

  // Inclusive time of Portico's functions: walk the tree keeping, for each function on the
  // current stack, how many frames of it are there, so recursion is counted once.
  const inclusive = new Map<string, number>();
  const onStack = new Map<string, number>();
  const root = raw.nodes[0];
  const visit = (node: ProfileNode): void => {
    const location = locationOf(node.callFrame.url, repoRoot);
    const label = location.startsWith('src/') ? functionLabel(node.callFrame, repoRoot) : undefined;
    if (label !== undefined) onStack.set(label, (onStack.get(label) ?? 0) + 1);
    const ms = selfMs.get(node.id) ?? 0;
    if (ms > 0) for (const name of onStack.keys()) inclusive.set(name, (inclusive.get(name) ?? 0) + ms);
    for (const childId of node.children ?? []) {
      const child = byId.get(childId);
      if (child !== undefined) visit(child);
    }
    if (label !== undefined) {
      const count = (onStack.get(label) ?? 1) - 1;
      if (count === 0) onStack.delete(label);
      else onStack.set(label, count);
    }
  };
  if (root !== undefined) visit(root);

  return {
    windowed,
    totalMs,
    idleMs,
    selfByFunction: rows(byFunction, busyMs, limit),
    selfByArea: rows(byArea, busyMs, limit),
    selfByLayer: rows(byLayer, busyMs, limit),
    totalByPorticoFunction: rows(inclusive, busyMs, limit),
  };
}

export function formatProfileSummary(summary: ProfileSummary): string {
  const busyMs = summary.totalMs - summary.idleMs;
  const scope = summary.windowed ? 'the measured run only' : 'the whole process life, start-up included';
  const section = (title: string, list: readonly ProfileRow[]): string =>
    [
      title,
      ...list.map(
        (row) => `  ${(row.share * 100).toFixed(1).padStart(5)}%  ${row.ms.toFixed(0).padStart(6)} ms  ${row.label}`,
      ),
    ].join('\n');
  return [
    `profiled ${(summary.totalMs / 1000).toFixed(1)} s (${scope}), busy ${(busyMs / 1000).toFixed(1)} s ` +
      `(${((busyMs / Math.max(summary.totalMs, 1)) * 100).toFixed(0)}%); shares below are of the busy time`,
    section('self time by layer:', summary.selfByLayer),
    section('self time by function:', summary.selfByFunction),
    section('self time by file or package:', summary.selfByArea),
    section('time inside Portico functions (self + callees):', summary.totalByPorticoFunction),
  ].join('\n\n');
}
