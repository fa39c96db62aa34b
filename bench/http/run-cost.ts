// `npm run bench:cost`: what one proxied request costs, in CPU time of the proxy process
// (user + system, from /proc/<pid>/stat), for Portico and @fastify/reply-from, and for Portico
// built from other source trees (`--also <dir>`, e.g. `git worktree add /tmp/before HEAD~1`).
// Unlike `npm run bench`'s req/s, this moves little when other work shares the machine, and
// the contestants are measured in interleaved rounds, so slow drift in the machine's load
// hits each alike: use it to judge one change at a time (bench/README.md has the figures).
//
//   wrk -t1 -c<connections> → contestant (core 1) → nginx backend `200 ok` (core 0)
//
// Options: --duration <s> (5) --warmup <s> (3) --rounds <n> (5) --connections <n> (50)
//          --only <keys> (portico,portico-log,reply-from; also stack-floor: node:http + undici only)
//          --also <dir> (repeatable: a Portico source tree with node_modules to compare)
//          --node-flags="<flags>" (with "=", as the flags start with "-"; extra node flags for every Portico, e.g. GC sizes)
//          --flags-variant="<flags>" (repeatable: one more Portico from this tree with these node flags)

import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuSeconds, ProcessGroup } from './child-processes.ts';
import {
  type Contestant,
  type Placement,
  startBackend,
  startPortico,
  startReplyFrom,
  startStackFloor,
} from './contestants.ts';
import { BENCH_HOST } from './portico-manifests.ts';
import { median } from './report.ts';
import { runWrk, writeWrkScript } from './wrk.ts';
import { positiveInteger } from './positive-integer-flag.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    only: { type: 'string', default: 'portico,portico-log,reply-from' },
    also: { type: 'string', multiple: true, default: [] },
    'node-flags': { type: 'string', default: '' },
    'flags-variant': { type: 'string', multiple: true, default: [] },
    help: { type: 'boolean', default: false },
  },
});

if (flags.help) {
  console.log(
    'usage: npm run bench:cost -- [--duration 5] [--warmup 3] [--rounds 5] [--connections 50] ' +
      '[--only portico,portico-log,reply-from,stack-floor] [--also <portico source tree>]... [--node-flags="--max-semi-space-size=16"] [--flags-variant="..."]...',
  );
  process.exit(0);
}

const durationSeconds = positiveInteger('duration', flags.duration);
const warmupSeconds = positiveInteger('warmup', flags.warmup);
const rounds = positiveInteger('rounds', flags.rounds);
const connections = positiveInteger('connections', flags.connections);
const splitFlags = (text: string): string[] => text.split(/\s+/).filter((flag) => flag !== '');
const nodeFlags = splitFlags(flags['node-flags']);
const wanted = new Set(flags.only.split(','));

interface CostRun {
  readonly requests: number;
  /** CPU seconds per request */
  readonly perRequest: number;
  readonly requestsPerSecond: number;
  /** socket errors and non-2xx/3xx answers (wrk's timeout is 2 s: a stall on a busy machine counts) */
  readonly errors: number;
}

async function measure(
  processes: ProcessGroup,
  contestant: Contestant,
  seconds: number,
  script: string,
  placement: Placement,
): Promise<CostRun> {
  const before = await cpuSeconds(contestant.servingPid);
  const wrk = await runWrk(processes, {
    url: contestant.url,
    host: BENCH_HOST,
    connections,
    threads: 1,
    durationSeconds: seconds,
    cpus: placement.loadCpus,
    script,
  });
  const after = await cpuSeconds(contestant.servingPid);
  if (before === undefined || after === undefined) throw new Error(`cannot read the CPU time of ${contestant.label}`);
  return {
    requests: wrk.requests,
    perRequest: (after - before) / wrk.requests,
    requestsPerSecond: wrk.requestsPerSecond,
    errors: wrk.errors,
  };
}

const micros = (seconds: number): string => (seconds * 1e6).toFixed(1);

/** Every contestant wanted: Portico from this tree, with each flags variant, and each `--also` tree; then reply-from. */
async function startContestants(placement: Placement, backend: Contestant): Promise<Contestant[]> {
  const trees = [
    { root: repoRoot, name: 'Portico', flags: nodeFlags },
    ...flags['flags-variant'].map((extra) => ({
      root: repoRoot,
      name: `Portico ${extra}`,
      flags: [...nodeFlags, ...splitFlags(extra)],
    })),
    ...flags.also.map((dir) => ({ root: resolve(dir), name: `Portico@${basename(resolve(dir))}`, flags: nodeFlags })),
  ];
  const contestants: Contestant[] = [];
  for (const [index, tree] of trees.entries()) {
    const from: Placement = { ...placement, repoRoot: tree.root };
    if (wanted.has('portico')) {
      contestants.push(
        await startPortico(from, backend.listen, {
          key: `portico-${index}`,
          label: tree.name,
          logLevel: 'warn',
          nodeFlags: tree.flags,
        }),
      );
    }
    if (wanted.has('portico-log')) {
      contestants.push(
        await startPortico(from, backend.listen, {
          key: `portico-log-${index}`,
          label: `${tree.name}, access log on`,
          logLevel: 'info',
          nodeFlags: tree.flags,
        }),
      );
    }
  }
  if (wanted.has('reply-from')) contestants.push(await startReplyFrom(placement, backend.listen));
  if (wanted.has('stack-floor')) contestants.push(await startStackFloor(placement, backend.listen));
  return contestants;
}

async function main(processes: ProcessGroup, tempDir: string): Promise<void> {
  const twoCores = availableParallelism() >= 2;
  const placement: Placement = { repoRoot, tempDir, processes, proxyCpus: twoCores ? '1' : '0', loadCpus: '0' };
  const load = loadavg().map((value) => value.toFixed(1));
  console.log(
    `portico cost bench: CPU µs per request (user + system of the proxy process); wrk -t1 -c${connections} ` +
      `-d${durationSeconds}s, ${rounds} interleaved rounds after a ${warmupSeconds}s warm-up; ` +
      `load average ${load.join(' ')}; Node ${process.versions.node}` +
      (nodeFlags.length > 0 ? `; Portico node flags: ${nodeFlags.join(' ')}` : ''),
  );
  const script = await writeWrkScript(tempDir, 'cost');
  const backend = await startBackend(placement);
  const contestants = await startContestants(placement, backend);
  for (const contestant of contestants) await measure(processes, contestant, warmupSeconds, script, placement);
  const runs = new Map<string, CostRun[]>(contestants.map((contestant) => [contestant.key, []]));
  for (let round = 0; round < rounds; round += 1) {
    // Rotate the order each round so no contestant always follows the same one.
    const order = contestants.map((_, index) => contestants[(index + round) % contestants.length] as Contestant);
    for (const contestant of order) {
      const run = await measure(processes, contestant, durationSeconds, script, placement);
      runs.get(contestant.key)?.push(run);
      console.log(
        `  round ${round + 1}/${rounds}  ${contestant.label.padEnd(40)} ${micros(run.perRequest).padStart(7)} µs` +
          `  (${run.requests} requests, ${run.requestsPerSecond.toFixed(0)} req/s` +
          `${run.errors > 0 ? `, ${run.errors} errors` : ''})`,
      );
    }
  }

  const costs = new Map(
    contestants.map((contestant) => [
      contestant.key,
      median((runs.get(contestant.key) ?? []).map((run) => run.perRequest)),
    ]),
  );
  const replyFrom = costs.get('reply-from');
  console.log('');
  console.log(`${'contestant'.padEnd(40)} CPU µs/req  min–max       req/cpu-s  reply-from / it`);
  for (const contestant of contestants) {
    const own = (runs.get(contestant.key) ?? []).map((run) => run.perRequest);
    const cost = costs.get(contestant.key) ?? Number.NaN;
    const ratio = replyFrom === undefined || contestant.key === 'reply-from' ? '' : `${(replyFrom / cost).toFixed(2)}×`;
    console.log(
      `${contestant.label.padEnd(40)} ${micros(cost).padStart(10)}  ${`${micros(Math.min(...own))}–${micros(Math.max(...own))}`.padEnd(12)}` +
        `  ${(1 / cost).toFixed(0).padStart(9)}  ${ratio}`,
    );
  }
  if (replyFrom !== undefined)
    console.log('(reply-from / it: requests per CPU-second against reply-from; target ≥ 1.25×)');
}

const missing = ['wrk', 'nginx', 'taskset'].filter(
  (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status !== 0,
);
if (missing.length > 0) {
  console.error(`npm run bench:cost needs: ${missing.join(', ')} (Debian: apt-get install -y wrk nginx util-linux)`);
  process.exit(1);
}

const processes = new ProcessGroup();
const tempDir = await mkdtemp(join(tmpdir(), 'portico-cost-'));
// nginx run as root hands its worker to an unprivileged user, which must reach the temp dir.
await chmod(tempDir, 0o755);
process.on('exit', () => processes.killAllNow());
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    void processes.stopAll().finally(() => process.exit(130));
  });
}

try {
  await main(processes, tempDir);
} catch (error) {
  console.error(`bench:cost failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await processes.stopAll().catch(() => processes.killAllNow());
  await rm(tempDir, { recursive: true, force: true });
}
