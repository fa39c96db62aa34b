// `npm run bench:churn` (a benchmark, not a test): Portico under steady load while its
// configuration churns, after HAProxy's published ingress-controller benchmark method (load
// while pods scale and Ingress annotations change). Standalone mode: `portico serve
// --manifests <dir>` on a temp dir; the backend is one nginx answering `200 ok` on four
// loopback addresses (the four "pods" of one Service); wrk sends the load.
//
//   quiet round:  wrk for --duration seconds, nothing changes (the reference figure)
//   churn rounds: wrk for --duration seconds while, every --interval ms, the Ingress file is
//                 replaced (an annotation changes value, a second path comes and goes) and the
//                 EndpointSlice file is replaced (1, 2, 3, 4, 1, ... ready endpoints)
//
// Files are replaced by rename (written whole in a staging dir, then renamed over the old
// one), as editors, ConfigMap volumes and deployment tools do; an in-place rewrite would let
// a rescan read a half-written file, a hazard of the writer, not of Portico.
//
// Target: 0 failed requests under churn (responses >= 400, socket errors, wrk timeouts). Printed beside
// the figures; a miss prints MISSED, and the exit code stays 0.
//
// Options: --duration <s> (20) --rounds <n> (3 churn rounds) --interval <ms> (200)
//          --connections <n> (50)

import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { makeManifestDir, metricValue } from '../test/reliability/serve-process.ts';
import { ingressYaml, manifests, serviceYaml, sliceYaml, type TestPath } from '../test/support/cluster-manifests.ts';
import { cpuSeconds, peakRssKib, ProcessGroup } from './http/child-processes.ts';
import { freePort } from './http/contestants.ts';
import { type Listen, writeBackendConfig } from './http/nginx-config.ts';
import { formatColumns, median } from './http/report.ts';
import { runWrk, type WrkResult, writeWrkScript } from './http/wrk.ts';
import { startStandalonePortico, type StandalonePortico, waitReady } from './standalone-portico.ts';

const HOST = 'churn.bench.test';
const BACKEND_ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
const READY_TIMEOUT_MS = 30_000;

const repoRoot = fileURLToPath(new URL('../', import.meta.url)).replace(/\/$/, '');

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '3' },
    interval: { type: 'string', default: '200' },
    connections: { type: 'string', default: '50' },
  },
});
const durationSeconds = Number(flags.duration);
const rounds = Number(flags.rounds);
const intervalMs = Number(flags.interval);
const connections = Number(flags.connections);
if (![durationSeconds, rounds, intervalMs, connections].every((value) => Number.isInteger(value) && value > 0)) {
  console.error('usage: npm run bench:churn -- [--duration 20] [--rounds 3] [--interval 200] [--connections 50]');
  process.exit(2);
}

// Two cores or more: Portico on core 1, wrk and nginx on core 0, as `npm run bench` does.
const pinned = availableParallelism() >= 2;
const proxyCpus = pinned ? '1' : undefined;
const loadCpus = pinned ? '0' : undefined;

/** Edit `seq`: proxy-read-timeout changes value each time; `/toggle` exists on even edits. */
function churnIngress(seq: number): string {
  const paths: TestPath[] = [{ path: '/', service: 'web' }];
  if (seq % 2 === 0) paths.push({ path: '/toggle', service: 'web', pathType: 'Exact' });
  return ingressYaml('churn', HOST, paths, {
    'nginx.ingress.kubernetes.io/proxy-read-timeout': String(30 + (seq % 30)),
  });
}

/** 1, 2, 3, 4, 1, ... ready endpoints; those scaled away leave the slice. */
function churnSlice(seq: number, port: number): string {
  const count = 1 + (seq % BACKEND_ADDRESSES.length);
  return sliceYaml(
    'web',
    BACKEND_ADDRESSES.slice(0, count).map((ip) => ({ ip, port })),
  );
}

interface Round {
  readonly label: string;
  readonly wrk: WrkResult;
  readonly edits: number;
  readonly builds: number;
  readonly cpuShare: number;
}

interface BuildCounts {
  readonly success: number;
  readonly error: number;
}

async function buildCounts(portico: StandalonePortico): Promise<BuildCounts> {
  const text = await portico.metrics();
  return {
    success: metricValue(text, 'portico_table_builds_total', { result: 'success' }) ?? 0,
    error: metricValue(text, 'portico_table_builds_total', { result: 'error' }) ?? 0,
  };
}

const processes = new ProcessGroup();
process.on('exit', () => processes.killAllNow());
process.on('SIGINT', () => {
  void processes.stopAll().then(() => process.exit(130));
});

const workDir = await mkdtemp(join(tmpdir(), 'portico-bench-churn-'));
const dir = await makeManifestDir('bench-churn');
const results: Round[] = [];
let finalCheck: string;
let buildErrors = 0;
let peakRss: number | undefined;
try {
  const port = await freePort(BACKEND_ADDRESSES[0] as string);
  const listens: Listen[] = BACKEND_ADDRESSES.map((host) => ({ host, port }));
  const backend = processes.start({
    name: 'backend nginx',
    cpus: loadCpus,
    command: 'nginx',
    args: await writeBackendConfig(workDir, listens),
    logPath: join(workDir, 'backend.log'),
  });
  await dir.write('objects.yaml', manifests(serviceYaml('web')));
  await dir.write('ingress.yaml', churnIngress(0));
  await dir.write('slice.yaml', churnSlice(0, port));
  const portico = await startStandalonePortico(processes, {
    repoRoot,
    tempDir: workDir,
    name: 'portico',
    manifests: [dir.path],
    cpus: proxyCpus,
  });
  await waitReady(portico, READY_TIMEOUT_MS);
  if (backend.child.exitCode !== null) throw new Error(`nginx exited; see ${backend.logPath}`);
  const script = await writeWrkScript(workDir, 'churn');
  const wrkOptions = {
    url: `${portico.origin}/`,
    host: HOST,
    connections,
    threads: 1,
    durationSeconds,
    cpus: loadCpus,
    script,
  };
  // Warm-up: V8 optimizes and sizes its heap in the first seconds.
  await runWrk(processes, { ...wrkOptions, durationSeconds: Math.min(5, durationSeconds) });

  let seq = 0;
  const measure = async (label: string, churn: boolean): Promise<void> => {
    const buildsBefore = await buildCounts(portico);
    const cpuBefore = await cpuSeconds(portico.process.pid);
    const startedAt = performance.now();
    let running = true;
    let edits = 0;
    const churnLoop = (async () => {
      const maxTicks = Math.ceil((durationSeconds * 1000) / intervalMs);
      for (let tick = 1; churn && running && tick <= maxTicks; tick++) {
        seq++;
        await Promise.all([
          dir.replace('ingress.yaml', churnIngress(seq)),
          dir.replace('slice.yaml', churnSlice(seq, port)),
        ]);
        edits++;
        const wait = startedAt + tick * intervalMs - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
    })();
    const wrk = await runWrk(processes, wrkOptions).finally(() => {
      running = false;
    });
    await churnLoop;
    const wallSeconds = (performance.now() - startedAt) / 1000;
    const cpuAfter = await cpuSeconds(portico.process.pid);
    const buildsAfter = await buildCounts(portico);
    buildErrors += buildsAfter.error - buildsBefore.error;
    results.push({
      label,
      wrk,
      edits,
      builds: buildsAfter.success - buildsBefore.success,
      cpuShare: cpuBefore === undefined || cpuAfter === undefined ? Number.NaN : (cpuAfter - cpuBefore) / wallSeconds,
    });
    console.error(`${label}: ${wrk.requestsPerSecond.toFixed(0)} req/s, ${wrk.errors} errors`);
  };
  await measure('quiet (no churn)', false);
  for (let round = 1; round <= rounds; round++) await measure(`churn round ${round}`, true);

  // The last edit must be in force: its path toggle and its endpoint count.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  // undici's request, not fetch: fetch drops a Host header (a forbidden header name).
  const toggle = await request(`${portico.origin}/toggle`, { headers: { host: HOST } });
  await toggle.body.dump();
  const ready = metricValue(await portico.metrics(), 'portico_endpoints', { service: 'web', condition: 'ready' });
  const expectedToggle = seq % 2 === 0 ? 200 : 404;
  const expectedReady = 1 + (seq % BACKEND_ADDRESSES.length);
  finalCheck =
    `last edit ${seq} in force: /toggle ${toggle.statusCode} (expected ${expectedToggle}), ready endpoints ${ready} ` +
    `(expected ${expectedReady}) -> ${toggle.statusCode === expectedToggle && ready === expectedReady ? 'yes' : 'NO'}`;
  peakRss = await peakRssKib(portico.process.pid);
} finally {
  await processes.stopAll();
  await dir.remove();
  await rm(workDir, { recursive: true, force: true });
}

const header = [
  'run',
  'req/s',
  'p50 ms',
  'p99 ms',
  'max ms',
  'status >= 400',
  'socket errors',
  'timeouts',
  'edits',
  'table builds',
  'cpu',
];
const rows = results.map((round) => [
  round.label,
  round.wrk.requestsPerSecond.toFixed(0),
  round.wrk.p50Ms.toFixed(2),
  round.wrk.p99Ms.toFixed(2),
  round.wrk.maxMs.toFixed(1),
  String(round.wrk.statusErrors),
  String(round.wrk.socketErrors),
  String(round.wrk.timeouts),
  String(round.edits),
  String(round.builds),
  `${(round.cpuShare * 100).toFixed(0)}%`,
]);

console.log(
  `Mode: standalone (portico serve --manifests <dir>); wrk -t1 -c${connections}, ${durationSeconds} s per run; ` +
    `every ${intervalMs} ms during churn: Ingress annotation + path toggle, EndpointSlice scaled 1-4 endpoints (files replaced by rename).`,
);
console.log(
  `Pinning: ${pinned ? 'Portico on core 1; wrk and the nginx backend on core 0' : 'none (one CPU)'}; load average at the end ${loadavg()
    .map((value) => value.toFixed(1))
    .join(' ')}.`,
);
console.log('');
console.log(formatColumns(header, rows));
console.log('');
const churnRounds = results.filter((round) => round.edits > 0);
const failed = churnRounds.reduce((sum, round) => sum + round.wrk.errors, 0);
const quiet = results[0];
const churnRate = median(churnRounds.map((round) => round.wrk.requestsPerSecond));
const churnP99 = median(churnRounds.map((round) => round.wrk.p99Ms));
console.log(
  `Under churn (median of ${churnRounds.length} rounds): ${churnRate.toFixed(0)} req/s` +
    (quiet ? ` (${((churnRate / quiet.wrk.requestsPerSecond) * 100).toFixed(0)}% of quiet)` : '') +
    `, p99 ${churnP99.toFixed(2)} ms` +
    (quiet ? ` (quiet ${quiet.wrk.p99Ms.toFixed(2)} ms)` : ''),
);
console.log(
  `Failed requests under churn (status >= 400 + socket errors + timeouts): ${failed}   ${failed === 0 ? 'MET' : 'MISSED'}  target 0`,
);
console.log(`Failed table builds: ${buildErrors}; ${finalCheck}`);
console.log(`Peak RSS of Portico: ${peakRss === undefined ? '?' : `${(peakRss / 1024).toFixed(0)} MiB`}`);
