// `npm run bench`: Portico's HTTP throughput and latency beside nginx and @fastify/reply-from,
// all forwarding to the same nginx backend, each proxy pinned to the same single core. A
// benchmark, not a test: it prints the table and the targets beside it and never fails the
// build over a figure. How to read it, and the profile: bench/README.md.
//
//   core 1 (proxy core):  the contestant under load (the others sit idle)
//   core 0 (load core):   wrk, and the nginx backend answering `200 ok`
//
// Options: --duration <s> (10) --warmup <s> (5) --rounds <n> (3) --connections <n> (50)
//          --paced-rate <req/s> (2000: the offered rate of the paced latency run, 0 skips it)
//          --profile (also profile Portico under the same load with --cpu-prof)
//          --skip-https (leave out the HTTPS rows: nginx and Portico terminating TLS)
//          --profile-out <file> (where the .cpuprofile is kept)
//          --cores (`npm run bench:cores`: Portico --workers 1 vs --workers 2 instead, bench/http/cores.ts)

import { spawnSync } from 'node:child_process';
import { chmod, copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuBusySeconds, cpuSeconds, ProcessGroup, peakRssKib } from './child-processes.ts';
import {
  type Contestant,
  type Placement,
  type PorticoVariant,
  startBackend,
  startNginxProxy,
  startPortico,
  startReplyFrom,
  startStackFloor,
  writeBenchCertificate,
} from './contestants.ts';
import type { Listen } from './nginx-config.ts';
import { benchCores } from './cores.ts';
import { formatProfileSummary, summarizeCpuProfile } from './cpu-profile.ts';
import { BENCH_HOST } from './portico-manifests.ts';
import { formatTable, formatTargets, type Measurement, median, type Row, TABLE_NOTES } from './report.ts';
import { runWrk, writeWrkScript } from './wrk.ts';
import { positiveInteger } from './positive-integer-flag.ts';

const PORTICO: PorticoVariant = { key: 'portico', label: '(d) Portico', logLevel: 'warn' };
const PORTICO_ACCESS_LOG: PorticoVariant = {
  key: 'portico-log',
  label: '(d) Portico, access log on',
  logLevel: 'info',
};

const repoRoot = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    'paced-rate': { type: 'string', default: '2000' },
    profile: { type: 'boolean', default: false },
    'skip-https': { type: 'boolean', default: false },
    'profile-out': { type: 'string', default: join(tmpdir(), 'portico-bench.cpuprofile') },
    cores: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

const durationSeconds = positiveInteger('duration', flags.duration);
const warmupSeconds = positiveInteger('warmup', flags.warmup);
const rounds = positiveInteger('rounds', flags.rounds);
const connections = positiveInteger('connections', flags.connections);
const pacedRate = flags['paced-rate'] === '0' ? 0 : positiveInteger('paced-rate', flags['paced-rate']);
/** Length of the one paced run per contestant. */
const PACED_SECONDS = 8;

if (flags.help) {
  console.log(
    'usage: npm run bench -- [--duration 10] [--warmup 5] [--rounds 3] [--connections 50] [--paced-rate 2000] [--profile] [--profile-out file]',
  );
  process.exit(0);
}

function missingPrerequisites(): string[] {
  const missing: string[] = [];
  const onPath = (command: string): boolean =>
    spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
  const packages = ['wrk', 'nginx'].filter((command) => !onPath(command));
  if (packages.length > 0) missing.push(`apt-get update && apt-get install -y ${packages.join(' ')}`);
  if (!onPath('taskset')) missing.push('apt-get install -y util-linux   # taskset');
  try {
    import.meta.resolve('@fastify/reply-from');
  } catch {
    missing.push('npm ci   # @fastify/reply-from is a devDependency');
  }
  return missing;
}

async function measure(
  processes: ProcessGroup,
  contestant: Contestant,
  seconds: number,
  script: string,
  placement: Placement,
  newConnectionEachRequest = false,
): Promise<Measurement> {
  const proxyCore = placement.proxyCpus === undefined ? undefined : Number(placement.proxyCpus);
  const cpuBefore = await cpuSeconds(contestant.servingPid);
  const coreBefore = proxyCore === undefined ? undefined : await cpuBusySeconds(proxyCore);
  const started = performance.now();
  const wrk = await runWrk(processes, {
    url: contestant.url,
    host: BENCH_HOST,
    connections,
    threads: 1,
    durationSeconds: seconds,
    cpus: placement.loadCpus,
    script,
    newConnectionEachRequest,
  });
  const wallSeconds = (performance.now() - started) / 1000;
  const cpuAfter = await cpuSeconds(contestant.servingPid);
  const coreAfter = proxyCore === undefined ? undefined : await cpuBusySeconds(proxyCore);
  const used = cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore;
  const coreBusy = coreBefore === undefined || coreAfter === undefined ? undefined : coreAfter - coreBefore;
  const otherSeconds = used === undefined || coreBusy === undefined ? undefined : Math.max(0, coreBusy - used);
  return { wrk, wallSeconds, cpuSeconds: used, otherSeconds };
}

function progressLine(tag: string, contestant: Contestant, { wrk }: Measurement): string {
  return (
    `  ${tag.padEnd(10)} ${contestant.label.padEnd(28)} ${wrk.requestsPerSecond.toFixed(0).padStart(7)} req/s` +
    `  p50 ${wrk.p50Ms.toFixed(2)} ms  p99 ${wrk.p99Ms.toFixed(2)} ms` +
    (wrk.errors > 0 ? `  errors ${wrk.errors}` : '')
  );
}

async function findProfile(dir: string): Promise<string> {
  const files = (await readdir(dir)).filter((name) => name.endsWith('.cpuprofile'));
  const [file] = files;
  if (file === undefined) throw new Error(`no .cpuprofile written in ${dir}`);
  return join(dir, file);
}

const PORTICO_TLS: PorticoVariant = { key: 'portico-tls', label: 'Portico, TLS', logLevel: 'warn', https: true };

/**
 * The HTTPS rows (issue 5): nginx and Portico terminating TLS on the proxy core, in two modes:
 * keep-alive (one handshake per connection, then requests) and a new connection with a full
 * handshake for every request (`Connection: close`), which measures handshake cost.
 */
async function benchHttps(processes: ProcessGroup, placement: Placement, backend: Listen, tempDir: string) {
  const tls = writeBenchCertificate(tempDir);
  const contestants = [
    await startNginxProxy(placement, backend, tls),
    await startPortico(placement, backend, PORTICO_TLS),
  ];
  const script = await writeWrkScript(tempDir, 'https');
  const modes = [
    { name: 'keep-alive', newConnection: false },
    { name: 'new handshake per request', newConnection: true },
  ];
  for (const contestant of contestants) await measure(processes, contestant, warmupSeconds, script, placement);
  const results = new Map<string, Measurement[]>();
  for (let round = 0; round < rounds; round += 1) {
    for (const mode of modes) {
      const order = round % 2 === 0 ? contestants : [...contestants].reverse();
      for (const contestant of order) {
        const measurement = await measure(
          processes,
          contestant,
          durationSeconds,
          script,
          placement,
          mode.newConnection,
        );
        const key = `${mode.name}\u0000${contestant.key}`;
        results.set(key, [...(results.get(key) ?? []), measurement]);
        console.log(progressLine(`https ${round + 1}/${rounds}`, contestant, measurement));
      }
    }
  }
  await Promise.all(contestants.map((contestant) => processes.stop(contestant.process)));
  console.log('');
  console.log(`HTTPS: TLS 1.2/1.3 terminated on cpu ${placement.proxyCpus}, ECDSA P-256, HTTP/1.1, -c${connections}`);
  console.log('  mode                         contestant        req/s   p50 ms   p99 ms   req/cpu-s  errors');
  for (const mode of modes) {
    const perSecond = new Map<string, number>();
    for (const contestant of contestants) {
      const runs = results.get(`${mode.name}\u0000${contestant.key}`) ?? [];
      const requestsPerSecond = median(runs.map((run) => run.wrk.requestsPerSecond));
      const perCpu = median(runs.flatMap((run) => (run.cpuSeconds ? [run.wrk.requests / run.cpuSeconds] : [])));
      perSecond.set(contestant.key, requestsPerSecond);
      console.log(
        `  ${mode.name.padEnd(28)} ${contestant.label.padEnd(14)} ${requestsPerSecond.toFixed(0).padStart(8)}` +
          `  ${median(runs.map((run) => run.wrk.p50Ms))
            .toFixed(2)
            .padStart(7)}  ${median(runs.map((run) => run.wrk.p99Ms))
            .toFixed(2)
            .padStart(7)}` +
          `  ${Number.isNaN(perCpu) ? '      —' : perCpu.toFixed(0).padStart(10)}  ${runs.reduce((sum, run) => sum + run.wrk.errors, 0)}`,
      );
    }
    const ratio = (perSecond.get(PORTICO_TLS.key) ?? Number.NaN) / (perSecond.get('nginx-tls') ?? Number.NaN);
    console.log(`  ${''.padEnd(28)} Portico / nginx: ${ratio.toFixed(2)}x req/s`);
  }
}

async function main(processes: ProcessGroup, tempDir: string): Promise<void> {
  const began = performance.now();
  const cpuCount = availableParallelism();
  // One core for the proxies, the other for wrk and the backend; on one CPU all share it.
  const twoCores = cpuCount >= 2;
  const placement: Placement = {
    repoRoot,
    tempDir,
    processes,
    proxyCpus: twoCores ? '1' : '0',
    loadCpus: '0',
  };
  const [oneMinuteLoad = 0] = loadavg();
  console.log(
    `portico http bench: wrk -t1 -c${connections} -d${durationSeconds}s, ${rounds} interleaved rounds, ` +
      `warm-up ${warmupSeconds}s; proxy on cpu ${placement.proxyCpus}, wrk + backend on cpu ${placement.loadCpus} ` +
      `(${cpuCount} cpus, Node ${process.versions.node})`,
  );
  if (!twoCores) console.log('warning: one CPU only; proxy, backend and wrk share it, so ratios mean little');
  if (oneMinuteLoad > 0.5)
    console.log(`warning: load average ${oneMinuteLoad.toFixed(2)} before starting; other work will add noise`);

  const script = await writeWrkScript(tempDir, 'full-load');
  const pacedScript =
    pacedRate > 0 ? await writeWrkScript(tempDir, 'paced', Math.round((connections / pacedRate) * 1000)) : undefined;
  const backend = await startBackend(placement);
  const backendListen = backend.listen;
  const contestants = [
    backend,
    await startNginxProxy(placement, backendListen),
    await startReplyFrom(placement, backendListen),
    await startPortico(placement, backendListen, PORTICO),
    await startPortico(placement, backendListen, PORTICO_ACCESS_LOG),
    await startStackFloor(placement, backendListen),
  ];

  // Warm-up: connections opened on every hop, Node's JIT past its first tiers.
  for (const contestant of contestants) await measure(processes, contestant, warmupSeconds, script, placement);

  const runs = new Map<string, Measurement[]>(contestants.map((contestant) => [contestant.key, []]));
  for (let round = 0; round < rounds; round += 1) {
    // Rotate the order each round so no contestant always follows the same one.
    const order = contestants.map((_, index) => contestants[(index + round) % contestants.length] as Contestant);
    for (const contestant of order) {
      const measurement = await measure(processes, contestant, durationSeconds, script, placement);
      runs.get(contestant.key)?.push(measurement);
      console.log(progressLine(`round ${round + 1}/${rounds}`, contestant, measurement));
    }
  }

  const paced = new Map<string, Measurement>();
  if (pacedScript !== undefined) {
    for (const contestant of contestants) {
      const measurement = await measure(processes, contestant, PACED_SECONDS, pacedScript, placement);
      paced.set(contestant.key, measurement);
      console.log(progressLine('paced', contestant, measurement));
    }
  }

  const rows: Row[] = [];
  for (const contestant of contestants) {
    rows.push({
      key: contestant.key,
      label: contestant.label,
      isProxy: contestant !== backend,
      runs: runs.get(contestant.key) ?? [],
      paced: paced.get(contestant.key),
      rssKib: await peakRssKib(contestant.servingPid),
    });
  }

  console.log('');
  console.log(formatTable(rows, placement.proxyCpus ?? '?', pacedRate));
  console.log('');
  console.log(TABLE_NOTES);
  console.log('');
  console.log(formatTargets(rows, [PORTICO.key, PORTICO_ACCESS_LOG.key], pacedRate));

  if (!flags['skip-https']) await benchHttps(processes, placement, backendListen, tempDir);

  if (flags.profile) {
    const profileDir = join(tempDir, 'profile');
    const profiled = await startPortico(placement, backendListen, {
      key: 'portico-profile',
      label: 'Portico (profiled)',
      logLevel: 'warn',
      nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`],
    });
    await measure(processes, profiled, warmupSeconds, script, placement);
    const fromUs = Number(process.hrtime.bigint() / 1000n);
    const { wrk } = await measure(processes, profiled, durationSeconds, script, placement);
    const toUs = Number(process.hrtime.bigint() / 1000n);
    await processes.stop(profiled.process);
    const file = await findProfile(profileDir);
    await copyFile(file, flags['profile-out']);
    const summary = summarizeCpuProfile(JSON.parse(await readFile(file, 'utf8')), repoRoot, { fromUs, toUs });
    console.log('');
    console.log(
      `profile of Portico (access log off) under the same load: ${wrk.requestsPerSecond.toFixed(0)} req/s with ` +
        `the profiler on; kept in ${flags['profile-out']} (open in Chrome DevTools or speedscope)`,
    );
    console.log(formatProfileSummary(summary));
  }

  await processes.stopAll();
  console.log('');
  console.log(`total ${((performance.now() - began) / 1000).toFixed(0)} s`);
}

const missing = missingPrerequisites();
if (missing.length > 0) {
  console.error('npm run bench needs, first:');
  for (const line of missing) console.error(`  ${line}`);
  process.exit(1);
}

const processes = new ProcessGroup();
const tempDir = await mkdtemp(join(tmpdir(), 'portico-bench-'));
// nginx run as root hands its worker to an unprivileged user, which must reach the temp dir.
await chmod(tempDir, 0o755);

let cleaning: Promise<void> | undefined;
let interrupted = false;
const cleanUp = (): Promise<void> => {
  cleaning ??= processes
    .stopAll()
    .catch(() => processes.killAllNow())
    .then(() => rm(tempDir, { recursive: true, force: true }));
  return cleaning;
};
process.on('exit', () => processes.killAllNow());
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`\n${signal}: stopping every process the bench started`);
    void cleanUp().finally(() => process.exit(130));
  });
}

try {
  if (flags.cores)
    await benchCores(processes, tempDir, { repoRoot, durationSeconds, warmupSeconds, rounds, connections });
  else await main(processes, tempDir);
} catch (error) {
  // After a signal, the failure is only wrk being stopped under us.
  if (!interrupted) console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
