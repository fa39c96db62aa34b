// `npm run bench:cores`: does a second worker add capacity? Portico `--workers 1` against
// `--workers 2`, forwarding to the same nginx backend under the same wrk load (issue 8, item 4).
// Nothing is pinned: on this two-core machine wrk, the backend and Portico share both cores,
// so raw req/s mostly says how the cores were split. The figure that matters is requests per
// CPU-second Portico used ("per busy core"): a second worker should cost little per request
// (IPC, two event loops, the primary handing connections over), target ≥ 0.9× one worker's.

import { loadavg } from 'node:os';
import { childPids, cpuSeconds, type ProcessGroup } from './child-processes.ts';
import { type Contestant, type Placement, startBackend, startPortico } from './contestants.ts';
import { BENCH_HOST } from './portico-manifests.ts';
import { median } from './report.ts';
import { runWrk, writeWrkScript } from './wrk.ts';

export const TARGET_PER_CORE_RATIO = 0.9;
/** Two workers start the whole program twice over: give them longer than one process. */
const WORKERS_READY_TIMEOUT_MS = 60_000;

export interface CoresOptions {
  readonly repoRoot: string;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly rounds: number;
  readonly connections: number;
}

interface CoresRun {
  readonly requestsPerSecond: number;
  readonly requests: number;
  readonly wallSeconds: number;
  /** CPU seconds of the Portico processes (primary and workers) during the run */
  readonly porticoCpuSeconds: number;
  /** of which the process wrk connects to (the single process, or the primary handing connections out) */
  readonly primaryCpuSeconds: number;
  readonly errors: number;
}

/** CPU seconds so far of `pid` alone and with its children (the primary and its workers). */
async function treeCpuSeconds(pid: number): Promise<{ own: number; total: number }> {
  const own = (await cpuSeconds(pid)) ?? 0;
  let total = own;
  for (const child of await childPids(pid)) total += (await cpuSeconds(child)) ?? 0;
  return { own, total };
}

async function measure(
  processes: ProcessGroup,
  portico: Contestant,
  seconds: number,
  script: string,
  connections: number,
): Promise<CoresRun> {
  const before = await treeCpuSeconds(portico.servingPid);
  const started = performance.now();
  const wrk = await runWrk(processes, {
    url: portico.url,
    host: BENCH_HOST,
    connections,
    // One wrk thread: the load generator takes at most one of the two cores.
    threads: 1,
    durationSeconds: seconds,
    cpus: undefined,
    script,
  });
  const wallSeconds = (performance.now() - started) / 1000;
  const after = await treeCpuSeconds(portico.servingPid);
  return {
    requestsPerSecond: wrk.requestsPerSecond,
    requests: wrk.requests,
    wallSeconds,
    porticoCpuSeconds: after.total - before.total,
    primaryCpuSeconds: after.own - before.own,
    errors: wrk.errors,
  };
}

export async function benchCores(processes: ProcessGroup, tempDir: string, options: CoresOptions): Promise<void> {
  const placement: Placement = {
    repoRoot: options.repoRoot,
    tempDir,
    processes,
    proxyCpus: undefined,
    loadCpus: undefined,
  };
  const [oneMinuteLoad = 0] = loadavg();
  console.log(
    `portico cores bench: --workers 1 vs --workers 2, wrk -t1 -c${options.connections} -d${options.durationSeconds}s, ` +
      `${options.rounds} interleaved rounds, warm-up ${options.warmupSeconds}s; nothing pinned (wrk, backend and Portico share the cores)`,
  );
  if (oneMinuteLoad > 0.5)
    console.log(`warning: load average ${oneMinuteLoad.toFixed(2)} before starting; other work will add noise`);

  const script = await writeWrkScript(tempDir, 'cores');
  const backend = await startBackend(placement);
  const variants = [
    await startPortico(placement, backend.listen, {
      key: 'workers-1',
      label: '--workers 1',
      logLevel: 'warn',
      workers: 1,
    }),
    await startPortico(
      placement,
      backend.listen,
      { key: 'workers-2', label: '--workers 2', logLevel: 'warn', workers: 2 },
      WORKERS_READY_TIMEOUT_MS,
    ),
  ];
  for (const portico of variants) await measure(processes, portico, options.warmupSeconds, script, options.connections);

  const runs = new Map<string, CoresRun[]>(variants.map((portico) => [portico.key, []]));
  for (let round = 0; round < options.rounds; round += 1) {
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const portico of order) {
      const run = await measure(processes, portico, options.durationSeconds, script, options.connections);
      runs.get(portico.key)?.push(run);
      console.log(
        `  round ${round + 1}/${options.rounds} ${portico.label.padEnd(12)} ${run.requestsPerSecond.toFixed(0).padStart(7)} req/s` +
          `  Portico CPU ${run.porticoCpuSeconds.toFixed(1)} s (primary ${run.primaryCpuSeconds.toFixed(1)}) of ${run.wallSeconds.toFixed(1)} s` +
          `  ${(run.requests / run.porticoCpuSeconds).toFixed(0)} req/cpu-s` +
          (run.errors > 0 ? `  errors ${run.errors}` : ''),
      );
    }
  }
  await Promise.all([...variants, backend].map((contestant) => processes.stop(contestant.process)));

  console.log('');
  console.log('  variant        req/s   Portico cpu-s/s (busy cores)   req/s per busy core   errors');
  const perCore = new Map<string, number>();
  for (const portico of variants) {
    const list = runs.get(portico.key) ?? [];
    const requestsPerSecond = median(list.map((run) => run.requestsPerSecond));
    const busyCores = median(list.map((run) => run.porticoCpuSeconds / run.wallSeconds));
    const perBusyCore = median(list.map((run) => run.requests / run.porticoCpuSeconds));
    perCore.set(portico.key, perBusyCore);
    console.log(
      `  ${portico.label.padEnd(12)} ${requestsPerSecond.toFixed(0).padStart(7)}   ${busyCores.toFixed(2).padStart(28)}   ` +
        `${perBusyCore.toFixed(0).padStart(19)}   ${list.reduce((sum, run) => sum + run.errors, 0)}`,
    );
  }
  const ratio = (perCore.get('workers-2') ?? Number.NaN) / (perCore.get('workers-1') ?? Number.NaN);
  console.log('');
  console.log(
    `  target: req/s per busy core with 2 workers ≥ ${TARGET_PER_CORE_RATIO}× that of 1 worker: ` +
      `${ratio.toFixed(2)}× ${ratio >= TARGET_PER_CORE_RATIO ? 'met' : 'MISSED'}`,
  );
  console.log(
    '  (medians of the rounds; busy cores = Portico CPU seconds / wall seconds, primary and workers together;' +
      ' on a shared machine the figures are noisy)',
  );
}
