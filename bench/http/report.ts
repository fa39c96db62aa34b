// The printed results: one row per contestant (medians over the rounds) and the targets of
// issue 3 beside Portico's ratios. Two sets of ratios: req/s as wrk saw it, which is what
// the targets name, and requests per CPU-second of the proxy process, which stays put when
// other processes take a share of the proxy core (a shared CI machine, a laptop) because it
// counts only the time the proxy actually ran.

import type { WrkResult } from './wrk.ts';

export interface Measurement {
  readonly wrk: WrkResult;
  readonly wallSeconds: number;
  /** CPU time (all threads) of the serving process over the run */
  readonly cpuSeconds: number | undefined;
  /** busy time of the proxy core over the run that was not the serving process */
  readonly otherSeconds: number | undefined;
}

export interface Row {
  readonly key: string;
  readonly label: string;
  /** false for the backend measured directly: its CPU is on the load core, not a proxy's */
  readonly isProxy: boolean;
  readonly runs: readonly Measurement[];
  /** one run at a fixed offered rate, below every contestant's capacity */
  readonly paced: Measurement | undefined;
  readonly rssKib: number | undefined;
}

export const TARGET_VS_REPLY_FROM = 1.25;
export const TARGET_VS_NGINX = 0.3;
export const TARGET_P99_MS = 2;

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((left, right) => left - right);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** The value below which `fraction` of the values lie (nearest rank); NaN for none. */
export function percentile(values: readonly number[], fraction: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))] as number;
}

/** A plain-text table: the first column left-aligned, the others right-aligned, a rule under the header. */
export function formatColumns(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)));
  const render = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0)))
      .join('  ');
  return [render(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(render)].join('\n');
}

const defined = (values: readonly (number | undefined)[]): number[] =>
  values.filter((value): value is number => value !== undefined);

function rateOf(row: Row): number {
  return median(row.runs.map((run) => run.wrk.requestsPerSecond));
}

/** Requests per CPU-second of the proxy: the req/s it would reach with the core to itself. */
function perCpuSecondOf(row: Row): number {
  return median(
    defined(
      row.runs.map((run) =>
        run.cpuSeconds === undefined || run.cpuSeconds <= 0 ? undefined : run.wrk.requests / run.cpuSeconds,
      ),
    ),
  );
}

function shareOf(row: Row, pick: (run: Measurement) => number | undefined): string {
  const shares = defined(row.runs.map((run) => pick(run)));
  return shares.length === 0 ? '?' : `${(median(shares) * 100).toFixed(0)}%`;
}

export function formatTable(rows: readonly Row[], proxyCore: string, pacedRate: number): string {
  const header = [
    'contestant',
    'req/s',
    'min–max',
    'p50 ms',
    'p99 ms',
    `p99 @${pacedRate}/s`,
    'errors',
    'req/cpu-s',
    'cpu',
    `core ${proxyCore} other`,
    'peak RSS',
  ];
  const lines = rows.map((row) => {
    const rates = row.runs.map((run) => run.wrk.requestsPerSecond);
    return [
      row.label,
      rateOf(row).toFixed(0),
      `${Math.min(...rates).toFixed(0)}–${Math.max(...rates).toFixed(0)}`,
      median(row.runs.map((run) => run.wrk.p50Ms)).toFixed(2),
      median(row.runs.map((run) => run.wrk.p99Ms)).toFixed(2),
      row.paced === undefined ? '?' : row.paced.wrk.p99Ms.toFixed(2),
      String(row.runs.reduce((sum, run) => sum + run.wrk.errors, 0)),
      row.isProxy ? perCpuSecondOf(row).toFixed(0) : '—',
      shareOf(row, (run) => (run.cpuSeconds === undefined ? undefined : run.cpuSeconds / run.wallSeconds)),
      row.isProxy
        ? shareOf(row, (run) => (run.otherSeconds === undefined ? undefined : run.otherSeconds / run.wallSeconds))
        : '—',
      row.rssKib === undefined ? '?' : `${(row.rssKib / 1024).toFixed(1)} MiB`,
    ];
  });
  return formatColumns(header, lines);
}

export const TABLE_NOTES = [
  'req/s, p50, p99: medians over the rounds at full load; min–max: the spread of req/s.',
  'p99 @N/s: one paced run, the same connections offering about N req/s in all (wrk delay hook).',
  'req/cpu-s: requests per CPU-second of the proxy process (all its threads), its req/s with the core to itself.',
  'cpu: that CPU time over the wall time of the run (the nginx worker for (a) and (b); (a) is the backend).',
  'core N other: busy time of the proxy core not spent in the proxy (other processes, and kernel softirq work).',
  'peak RSS: VmHWM of the serving process, over its whole life.',
].join('\n');

const verdict = (met: boolean): string => (met ? 'MET' : 'MISSED');

export function formatTargets(rows: readonly Row[], porticoKeys: readonly string[], pacedRate: number): string {
  const find = (key: string): Row | undefined => rows.find((row) => row.key === key);
  const replyFrom = find('reply-from');
  const nginx = find('nginx');
  if (replyFrom === undefined || nginx === undefined) return '';
  const floor = find('stack-floor');
  /** a ratio printed without a verdict */
  const share = (of: Row, peer: Row, title: string): string =>
    `  ${title.padEnd(24)} req/s ${(rateOf(of) / rateOf(peer)).toFixed(2)}×          ` +
    `per cpu-s ${(perCpuSecondOf(of) / perCpuSecondOf(peer)).toFixed(2)}×`;
  const lines: string[] = [];
  for (const key of porticoKeys) {
    const portico = find(key);
    if (portico === undefined) continue;
    const ratio = (peer: Row, target: number, title: string): string => {
      const byRate = rateOf(portico) / rateOf(peer);
      const byCpu = perCpuSecondOf(portico) / perCpuSecondOf(peer);
      return (
        `  ${title.padEnd(24)} req/s ${byRate.toFixed(2)}× ${verdict(byRate >= target).padEnd(6)}` +
        `   per cpu-s ${byCpu.toFixed(2)}× ${verdict(byCpu >= target).padEnd(6)}   target ≥ ${target}×`
      );
    };
    const p99 = median(portico.runs.map((run) => run.wrk.p99Ms));
    const pacedP99 = portico.paced?.wrk.p99Ms;
    const paced =
      pacedP99 === undefined
        ? ''
        : `   @${pacedRate}/s ${pacedP99.toFixed(2)} ms ${verdict(pacedP99 <= TARGET_P99_MS).padEnd(6)}`;
    lines.push(
      `${portico.label}:`,
      ratio(replyFrom, TARGET_VS_REPLY_FROM, 'Portico / reply-from'),
      ratio(nginx, TARGET_VS_NGINX, 'Portico / nginx'),
      `  ${'Portico p99'.padEnd(24)} full load ${p99.toFixed(2)} ms ${verdict(p99 <= TARGET_P99_MS)}${paced}` +
        `   target ≤ ${TARGET_P99_MS} ms at the same connections`,
    );
    if (floor !== undefined) lines.push(share(portico, floor, 'Portico / (e)'));
  }
  if (floor !== undefined) {
    const floorP99 = median(floor.runs.map((run) => run.wrk.p99Ms));
    const floorPaced = floor.paced === undefined ? '' : `   @${pacedRate}/s ${floor.paced.wrk.p99Ms.toFixed(2)} ms`;
    lines.push(
      `${floor.label}, the floor of Portico's stack (no target; what the targets would need of node:http and undici):`,
      share(floor, nginx, '(e) / nginx'),
      `  ${'(e) p99'.padEnd(24)} full load ${floorP99.toFixed(2)} ms${floorPaced}`,
    );
  }
  return lines.join('\n');
}
