// `npm run bench:scale` (a benchmark, not a test): standalone Portico (`serve --manifests`)
// on 1,000 / 5,000 / 10,000 generated Ingresses, each with its Service and EndpointSlice.
// For each size it prints
//   - parse: reading and parsing the manifest files (in this process, the code Portico runs),
//   - start -> ready: process start until /readyz answers 200 (Node start, parse, first compile),
//   - first compile, compile per change: Portico's own table-build time
//     (`portico_table_build_duration_seconds`: its sum and count before and after each edit),
//   - edit -> served: one Ingress file replaced (rename) until the new path answers,
//   - endpoint change -> traffic: one EndpointSlice file replaced until the new endpoint answers,
//     and the same in two parts, split where the manifest source hands the change to the store
//     (Portico's `portico_last_change_timestamp_seconds`, read after each change): write ->
//     hand-over (file events, the manifest hold-off, the rescan) and hand-over -> traffic (the
//     store, the endpoint index, the request that finds the new endpoint),
//   - RSS once ready, and peak RSS at the end.
//
// Layout of the generated manifests: one multi-document file per kind for the bulk
// (ingresses.yaml, services.yaml, endpointslices.yaml, as `kubectl get -o yaml` exports or a
// Helm render would give) and the measured Ingress and EndpointSlice in files of their own, so
// an edit rewrites a small file (a rescan re-reads every file, but parses only changed text).
//
// Standalone mode watches files: every figure after a write includes a manifest hold-off: the
// Ingress file's DEFAULT_MANIFEST_WATCH_HOLDOFF_MS (100 ms: editors write a file in several
// steps) and the rebuild hold-off (50 ms); the EndpointSlice file, small and of slices only,
// DEFAULT_MANIFEST_WATCH_FAST_HOLDOFF_MS (10 ms; see src/standalone/manifest-source.ts). All
// are printed beside the figures.
//
// Options: --sizes 1000,5000,10000  --edits 10  --samples 50 (endpoint changes)  --profile
//          (run Portico under --cpu-prof; the profiles land in the temp dir, which is kept)

import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { stringify } from 'yaml';
import {
  DEFAULT_MANIFEST_WATCH_FAST_HOLDOFF_MS,
  DEFAULT_MANIFEST_WATCH_HOLDOFF_MS,
  DEFAULT_REBUILD_HOLDOFF_MS,
  DEFAULT_CONTROLLER_CLASS,
  DEFAULT_INGRESS_CLASS,
} from '../src/config/config.ts';
import { compile } from '../src/compile/compile.ts';
import { DEFAULT_COMPILE_OPTIONS } from '../src/compile/compile-options.ts';
import type { ClusterRecord } from '../src/model/records.ts';
import { parseManifestText } from '../src/standalone/read-manifests.ts';
import { applyChange, snapshotFromRecords } from '../src/store/cluster-snapshot.ts';
import { compileWithTls } from '../src/tls/compile-with-tls.ts';
import { type NamedBackend, startBackendsOnOnePort } from '../test/reliability/named-backends.ts';
import { makeManifestDir, metricValue } from '../test/reliability/serve-process.ts';
import { peakRssKib, ProcessGroup, rssKib } from './http/child-processes.ts';
import { formatColumns, median, percentile } from './http/report.ts';
import { startStandalonePortico, type StandalonePortico, waitReady } from './standalone-portico.ts';

const COMPILE_TARGET_MS = 250;
const COMPILE_RUNS = 5;
const ENDPOINT_TARGET_MS = 50;
const RSS_TARGET_MIB = 300;
const READY_TIMEOUT_MS = 300_000;
const CHANGE_TIMEOUT_MS = 30_000;
const POLL_INTERVAL_MS = 1;
/** pause between changes, so each meets a quiet watcher (its hold-off is not extended) */
const SETTLE_MS = 250;

const repoRoot = fileURLToPath(new URL('../', import.meta.url)).replace(/\/$/, '');

const { values: flags } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,5000,10000' },
    edits: { type: 'string', default: '10' },
    samples: { type: 'string', default: '50' },
    profile: { type: 'boolean', default: false },
  },
});
const sizes = flags.sizes.split(',').map(Number);
const edits = Number(flags.edits);
const samples = Number(flags.samples);
if (sizes.some((size) => !Number.isInteger(size) || size < 1) || !(edits >= 1) || !(samples >= 1)) {
  console.error('usage: npm run bench:scale -- [--sizes 1000,5000,10000] [--edits 10] [--samples 50] [--profile]');
  process.exit(2);
}

const HOST_SUFFIX = 'scale.test';
const NAMESPACE = 'scale';
const MEASURED = 'ing-0';
const INGRESS_CLASS_YAML = stringify({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'IngressClass',
  metadata: { name: DEFAULT_INGRESS_CLASS },
  spec: { controller: DEFAULT_CONTROLLER_CLASS },
});
const MEASURED_HOST = `app-0.${HOST_SUFFIX}`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Block-style YAML, as `kubectl get -o yaml` and Helm write it (the test builders' flow-style
 * `{ ... }` parses about 3x slower with the yaml package, which would overstate the parse).
 */
const toYaml = (object: unknown): string => stringify(object);

function ingress(name: string, host: string, paths: readonly { path: string; pathType: string }[], service: string) {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: NAMESPACE, creationTimestamp: '2026-01-01T00:00:00Z' } as Record<string, unknown>,
    spec: {
      ingressClassName: DEFAULT_INGRESS_CLASS,
      rules: [
        {
          host,
          http: {
            paths: paths.map(({ path, pathType }) => ({
              path,
              pathType,
              backend: { service: { name: service, port: { number: 80 } } },
            })),
          },
        },
      ],
    },
  };
}

/** Ingress i: its own host, `/` and `/api` (Prefix) to Service svc-i, every 10th with an annotation. */
function bulkIngress(index: number): string {
  const object = ingress(
    `ing-${index}`,
    `app-${index}.${HOST_SUFFIX}`,
    [
      { path: '/', pathType: 'Prefix' },
      { path: '/api', pathType: 'Prefix' },
    ],
    `svc-${index}`,
  );
  if (index % 10 === 0) object.metadata.annotations = { 'nginx.ingress.kubernetes.io/proxy-read-timeout': '30' };
  return toYaml(object);
}

function service(index: number): string {
  return toYaml({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `svc-${index}`, namespace: NAMESPACE },
    spec: { ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }] },
  });
}

function slice(index: number, endpoints: readonly { ip: string; port: number }[]): string {
  return toYaml({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `svc-${index}-1`,
      namespace: NAMESPACE,
      labels: { 'kubernetes.io/service-name': `svc-${index}` },
    },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: endpoints[0]?.port ?? 8080, protocol: 'TCP' }],
    endpoints: endpoints.map((endpoint) => ({
      addresses: [endpoint.ip],
      conditions: { ready: true, serving: true, terminating: false },
    })),
  });
}

/** Two ready endpoints per Service, on addresses nothing listens on (only ing-0 gets requests). */
function bulkSlice(index: number): string {
  const address = (n: number) => `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
  return slice(index, [
    { ip: address(index * 2 + 1), port: 8080 },
    { ip: address(index * 2 + 2), port: 8080 },
  ]);
}

/** The measured Ingress, edit `seq`: `/` and `/edit-<seq>`, both Exact, so a new path answers 404 until applied. */
function measuredIngress(seq: number): string {
  return toYaml(
    ingress(
      MEASURED,
      MEASURED_HOST,
      [
        { path: '/', pathType: 'Exact' },
        { path: `/edit-${seq}`, pathType: 'Exact' },
      ],
      'svc-0',
    ),
  );
}

function measuredSlice(backend: NamedBackend): string {
  return slice(0, [{ ip: backend.address, port: backend.port }]);
}

interface SizeResult {
  readonly size: number;
  readonly manifestMiB: number;
  readonly parseMs: number;
  readonly readyMs: number;
  readonly firstCompileMs: number;
  /** median CPU time of one table build in this process: from scratch, and after one edit */
  readonly compileCpuMs: { readonly fullMs: number; readonly changeMs: number };
  readonly readyRssMiB: number;
  readonly compileMs: readonly number[];
  readonly editMs: readonly number[];
  readonly endpointMs: readonly number[];
  /** file written -> the source handed the change over (Portico's clock; ms resolution) */
  readonly handOverMs: readonly number[];
  /** the source handed the change over -> the new endpoint answered */
  readonly afterHandOverMs: readonly number[];
  readonly endRssMiB: number;
  /** V8 heap in use at the end (`nodejs_heap_size_used_bytes`): what RSS would shrink to */
  readonly heapUsedMiB: number;
  readonly peakRssMiB: number;
}

/**
 * The table build Portico runs (compile, then the TLS step) on the same objects, in this
 * process: the median CPU time (user + system, all threads: GC helpers included) of
 * COMPILE_RUNS builds from scratch (as at start; annotation memos warm after the first), and
 * of COMPILE_RUNS builds after one edit of the measured Ingress, each from the previous build
 * as Portico's control loop runs them. Unlike wall time, it hardly moves when other processes
 * share the cores.
 */
function measureCompileCpu(records: readonly ClusterRecord[]): { fullMs: number; changeMs: number } {
  let snapshot = snapshotFromRecords(records);
  const build = compileWithTls(compile, { defaultCertificateSecret: undefined });
  const cpuMs = (run: () => void): number => {
    const before = process.cpuUsage();
    run();
    const used = process.cpuUsage(before);
    return (used.user + used.system) / 1000;
  };
  const ingresses = records.filter((record) => record.kind === 'Ingress').length;
  const full: number[] = [];
  let last = build(snapshot, DEFAULT_COMPILE_OPTIONS);
  for (let run = 0; run < COMPILE_RUNS; run++) {
    full.push(cpuMs(() => (last = build(snapshot, DEFAULT_COMPILE_OPTIONS))));
  }
  const change: number[] = [];
  for (let run = 1; run <= COMPILE_RUNS; run++) {
    const [edited] = parseManifestText(measuredIngress(run), 'measured-ingress.yaml').records;
    if (edited === undefined) throw new Error('the measured Ingress did not parse');
    snapshot = applyChange(snapshot, { type: 'upsert', record: edited }).snapshot;
    change.push(cpuMs(() => (last = build(snapshot, DEFAULT_COMPILE_OPTIONS, last))));
    if (last.table.servedIngresses.length !== ingresses) {
      throw new Error(`${last.table.servedIngresses.length} Ingresses served, expected ${ingresses}`);
    }
    if (last.table.exactHosts.get(MEASURED_HOST)?.routes.some((route) => route.path === `/edit-${run}`) !== true) {
      throw new Error(`edit ${run} is not in the table`);
    }
  }
  return { fullMs: median(full), changeMs: median(change) };
}

async function buildDurations(portico: StandalonePortico): Promise<{ sum: number; count: number }> {
  const text = await portico.metrics();
  return {
    sum: metricValue(text, 'portico_table_build_duration_seconds_sum') ?? Number.NaN,
    count: metricValue(text, 'portico_table_build_duration_seconds_count') ?? Number.NaN,
  };
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const startedAt = performance.now();
  while (performance.now() - startedAt < CHANGE_TIMEOUT_MS) {
    if (await check()) return;
    await sleep(POLL_INTERVAL_MS);
  }
  throw new Error(`${what}: not seen within ${CHANGE_TIMEOUT_MS} ms`);
}

async function measureSize(
  processes: ProcessGroup,
  size: number,
  backends: readonly NamedBackend[],
  workDir: string,
): Promise<SizeResult> {
  const dir = await makeManifestDir(`scale-${size}`);
  const [first, second] = backends as [NamedBackend, NamedBackend];
  try {
    const bulk = { ingresses: [] as string[], services: [] as string[], slices: [] as string[] };
    for (let index = 0; index < size; index++) {
      bulk.services.push(service(index));
      if (index === 0) continue;
      bulk.ingresses.push(bulkIngress(index));
      bulk.slices.push(bulkSlice(index));
    }
    const files: [string, string][] = [
      ['class.yaml', INGRESS_CLASS_YAML],
      ['ingresses.yaml', bulk.ingresses.join('---\n')],
      ['services.yaml', bulk.services.join('---\n')],
      ['endpointslices.yaml', bulk.slices.join('---\n')],
      ['measured-ingress.yaml', measuredIngress(0)],
      ['measured-slice.yaml', measuredSlice(first)],
    ];
    let bytes = 0;
    for (const [name, text] of files) {
      await writeFile(dir.file(name), text);
      bytes += (await stat(dir.file(name))).size;
    }

    // The parse Portico will do at start, timed here in isolation.
    const parseStart = performance.now();
    const records: ClusterRecord[] = [];
    for (const [name] of files)
      records.push(...parseManifestText(await readFile(dir.file(name), 'utf8'), name).records);
    const parseMs = performance.now() - parseStart;
    if (records.length !== size * 3 + 1)
      throw new Error(`generated ${records.length} objects, expected ${size * 3 + 1}`);
    const compileCpuMs = measureCompileCpu(records);

    const portico = await startStandalonePortico(processes, {
      repoRoot,
      tempDir: workDir,
      name: `portico-${size}`,
      manifests: [dir.path],
      nodeFlags: flags.profile
        ? ['--cpu-prof', `--cpu-prof-dir=${join(tmpdir(), 'portico-bench-scale-profiles')}`]
        : [],
    });
    const pool = new Pool(portico.origin, { connections: 1 });
    try {
      const readyMs = await waitReady(portico, READY_TIMEOUT_MS);
      const afterStart = await buildDurations(portico);
      const readyRssMiB = ((await rssKib(portico.process.pid)) ?? Number.NaN) / 1024;
      const get = async (path: string): Promise<{ status: number; body: string }> => {
        const response = await pool.request({ path, method: 'GET', headers: { host: MEASURED_HOST } });
        return { status: response.statusCode, body: await response.body.text() };
      };

      const compileMs: number[] = [];
      const editMs: number[] = [];
      for (let seq = 1; seq <= edits; seq++) {
        await sleep(SETTLE_MS);
        const before = await buildDurations(portico);
        const writtenAt = performance.now();
        await dir.replace('measured-ingress.yaml', measuredIngress(seq));
        await until(`edit ${seq}`, async () => (await get(`/edit-${seq}`)).status === 200);
        editMs.push(performance.now() - writtenAt);
        let after = await buildDurations(portico);
        for (let attempt = 0; attempt < 100 && after.count === before.count; attempt++) {
          await sleep(10);
          after = await buildDurations(portico);
        }
        compileMs.push(((after.sum - before.sum) / (after.count - before.count)) * 1000);
      }

      const endpointMs: number[] = [];
      const handOverMs: number[] = [];
      const afterHandOverMs: number[] = [];
      for (let sample = 0; sample < samples; sample++) {
        await sleep(SETTLE_MS);
        const target = sample % 2 === 0 ? second : first;
        // Wall clock beside the monotonic one: Portico stamps the hand-over with Date.now().
        const writtenAtUnixMs = Date.now();
        const writtenAt = performance.now();
        await dir.replace('measured-slice.yaml', measuredSlice(target));
        await until(`endpoint change ${sample}`, async () => (await get('/')).body.startsWith(`${target.name} `));
        const servedAt = performance.now();
        endpointMs.push(servedAt - writtenAt);
        const servedAtUnixMs = writtenAtUnixMs + (servedAt - writtenAt);
        const handedOverUnixMs =
          (metricValue(await portico.metrics(), 'portico_last_change_timestamp_seconds') ?? Number.NaN) * 1000;
        // A stamp from before the write (no hand-over seen) would be a wrong split: leave it out.
        if (handedOverUnixMs >= writtenAtUnixMs && handedOverUnixMs <= servedAtUnixMs + 1) {
          handOverMs.push(handedOverUnixMs - writtenAtUnixMs);
          afterHandOverMs.push(Math.max(0, servedAtUnixMs - handedOverUnixMs));
        }
      }
      const peakRssMiB = ((await peakRssKib(portico.process.pid)) ?? Number.NaN) / 1024;
      const endRssMiB = ((await rssKib(portico.process.pid)) ?? Number.NaN) / 1024;
      const heapUsed = metricValue(await portico.metrics(), 'nodejs_heap_size_used_bytes') ?? Number.NaN;
      return {
        size,
        manifestMiB: bytes / 1024 / 1024,
        parseMs,
        readyMs,
        firstCompileMs: (afterStart.sum / afterStart.count) * 1000,
        compileCpuMs,
        readyRssMiB,
        compileMs,
        editMs,
        endpointMs,
        handOverMs,
        afterHandOverMs,
        endRssMiB,
        heapUsedMiB: heapUsed / 1024 / 1024,
        peakRssMiB,
      };
    } finally {
      await pool.close();
      await processes.stop(portico.process);
    }
  } finally {
    await dir.remove();
  }
}

/** p50, p99 and max, whole milliseconds */
const spread = (values: readonly number[]): string =>
  `${percentile(values, 0.5).toFixed(0)} ${percentile(values, 0.99).toFixed(0)} ${Math.max(...values).toFixed(0)}`;

function formatRows(results: readonly SizeResult[]): string {
  const header = [
    'ingresses',
    'files MiB',
    'parse ms',
    'start->ready ms',
    'first compile ms',
    'compile/change ms (median max)',
    'compile CPU ms (full change)',
    'edit->served ms (p50 max)',
    'endpoint->traffic ms (p50 p99 max)',
    'write->hand-over ms (p50 p99)',
    'hand-over->traffic ms (p50 p99 max)',
    'RSS ready MiB',
    'RSS end MiB',
    'heap used end MiB',
    'peak RSS MiB',
  ];
  const rows = results.map((result) => [
    String(result.size),
    result.manifestMiB.toFixed(1),
    result.parseMs.toFixed(0),
    result.readyMs.toFixed(0),
    result.firstCompileMs.toFixed(1),
    `${percentile(result.compileMs, 0.5).toFixed(1)} ${Math.max(...result.compileMs).toFixed(1)}`,
    `${result.compileCpuMs.fullMs.toFixed(1)} ${result.compileCpuMs.changeMs.toFixed(1)}`,
    `${percentile(result.editMs, 0.5).toFixed(0)} ${Math.max(...result.editMs).toFixed(0)}`,
    spread(result.endpointMs),
    `${percentile(result.handOverMs, 0.5).toFixed(0)} ${percentile(result.handOverMs, 0.99).toFixed(0)}`,
    spread(result.afterHandOverMs),
    result.readyRssMiB.toFixed(0),
    result.endRssMiB.toFixed(0),
    result.heapUsedMiB.toFixed(0),
    result.peakRssMiB.toFixed(0),
  ]);
  return formatColumns(header, rows);
}

const verdict = (met: boolean): string => (met ? 'MET' : 'MISSED');

const processes = new ProcessGroup();
process.on('exit', () => processes.killAllNow());
process.on('SIGINT', () => {
  void processes.stopAll().then(() => process.exit(130));
});
const workDir = await mkdtemp(join(tmpdir(), 'portico-bench-scale-'));
const backends = await startBackendsOnOnePort({ a: '127.0.0.2', b: '127.0.0.3' });
const results: SizeResult[] = [];
try {
  for (const size of sizes) {
    results.push(await measureSize(processes, size, backends, workDir));
    console.error(`measured ${size} Ingresses`);
  }
} finally {
  await processes.stopAll();
  await Promise.all(backends.map((backend) => backend.kill()));
  await rm(workDir, { recursive: true, force: true });
}

console.log(
  `Mode: standalone (portico serve --manifests <dir>), ${edits} Ingress edits and ${samples} EndpointSlice changes per size, polled every ${POLL_INTERVAL_MS} ms.`,
);
console.log(
  'Per size: N Ingresses (2 Prefix paths each; every 10th with an annotation), N Services, N EndpointSlices (2 endpoints each),',
);
console.log('one multi-document file per kind; the measured Ingress and EndpointSlice in files of their own.');
console.log('');
console.log(formatRows(results));
console.log('');
console.log(
  `Every change is a file replaced by rename: edit->served includes the ${DEFAULT_MANIFEST_WATCH_HOLDOFF_MS} ms manifest hold-off and the ${DEFAULT_REBUILD_HOLDOFF_MS} ms rebuild hold-off,`,
);
console.log(
  `endpoint->traffic the ${DEFAULT_MANIFEST_WATCH_FAST_HOLDOFF_MS} ms hold-off of a small EndpointSlice-only file (no compile: the endpoint path).`,
);
console.log(
  'write->hand-over: the file written until the manifest source handed the change to the store (file events, the hold-off,',
);
console.log(
  'the rescan); hand-over->traffic: from there until the new endpoint answered (Portico stamps the hand-over with its wall',
);
console.log('clock, 1 ms resolution: portico_last_change_timestamp_seconds). Cluster mode has no manifest hold-off.');
const largest = results.at(-1);
if (largest !== undefined) {
  const compile = Math.max(...largest.compileMs);
  const endpointP99 = percentile(largest.endpointMs, 0.99);
  const afterHandOverP99 = percentile(largest.afterHandOverMs, 0.99);
  const rss = Math.max(largest.readyRssMiB, largest.peakRssMiB);
  console.log('');
  console.log(`Targets at ${largest.size} Ingresses:`);
  console.log(
    `  compile per change (max of ${largest.compileMs.length})   ${compile.toFixed(1).padStart(7)} ms   ${verdict(compile < COMPILE_TARGET_MS).padEnd(6)}  target < ${COMPILE_TARGET_MS} ms`,
  );
  console.log(
    `  endpoint change p99                 ${endpointP99.toFixed(1).padStart(7)} ms   ${verdict(endpointP99 < ENDPOINT_TARGET_MS).padEnd(6)}  target < ${ENDPOINT_TARGET_MS} ms`,
  );
  console.log(
    `    after the source's hand-over      ${afterHandOverP99.toFixed(1).padStart(7)} ms   ${verdict(afterHandOverP99 < ENDPOINT_TARGET_MS).padEnd(6)}  (${largest.afterHandOverMs.length} of ${largest.endpointMs.length} samples split; the rest is the manifest source)`,
  );
  console.log(
    `  RSS (peak)                          ${rss.toFixed(0).padStart(7)} MiB  ${verdict(rss < RSS_TARGET_MIB).padEnd(6)}  target < ${RSS_TARGET_MIB} MB`,
  );
}
