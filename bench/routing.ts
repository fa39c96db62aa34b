// `npm run bench:routing`: compile time at 100 / 1,000 / 10,000 Ingresses and match cost per
// request at 10 / 1,000 / 100,000 paths. A benchmark, not a test: it prints figures and the
// targets beside them and never fails the build.

import { compile } from '../src/compile/compile.ts';
import { DEFAULT_COMPILE_OPTIONS } from '../src/compile/compile-options.ts';
import type { ClusterRecord } from '../src/model/records.ts';
import { normalizeObject } from '../src/normalize/normalize-object.ts';
import { matchRequest } from '../src/routing/match-request.ts';
import { snapshotFromRecords } from '../src/store/cluster-snapshot.ts';

const OPTIONS = { ...DEFAULT_COMPILE_OPTIONS, watchIngressWithoutClass: true };
const COMPILE_TARGET_MS = 250;
const MATCH_RATIO_TARGET = 1.3;

function record(raw: unknown): ClusterRecord {
  const normalized = normalizeObject(raw);
  if (!normalized.ok) throw new Error(normalized.error);
  return normalized.record;
}

/** Ingress i: a host (every 10th a wildcard), three paths, every 10th Ingress in regex mode. */
function syntheticIngress(index: number): ClusterRecord {
  const regex = index % 10 === 3;
  const host = index % 10 === 7 ? `*.tenant-${index}.example.com` : `app-${index}.example.com`;
  const paths = regex
    ? [`/api-${index}/v[0-9]+/items/(.*)`, `/static-${index}/(css|js)/.*`, `/health-${index}$`]
    : ['/', `/api/v1/team-${index}`, '/static'];
  return record({
    kind: 'Ingress',
    metadata: {
      name: `ing-${index}`,
      namespace: `ns-${index % 50}`,
      creationTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, index)).toISOString(),
      annotations: regex ? { 'nginx.ingress.kubernetes.io/use-regex': 'true' } : {},
    },
    spec: {
      rules: [
        {
          host,
          http: {
            paths: paths.map((path, p) => ({
              path,
              pathType: regex ? 'ImplementationSpecific' : p === 2 ? 'Exact' : 'Prefix',
              backend: { service: { name: `svc-${index}`, port: { number: 80 } } },
            })),
          },
        },
      ],
    },
  });
}

function syntheticService(index: number): ClusterRecord {
  return record({
    kind: 'Service',
    metadata: { name: `svc-${index}`, namespace: `ns-${index % 50}` },
    spec: { ports: [{ port: 80 }] },
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/**
 * `firstMs`: the first compile, every regex new to the pattern cache (time to first table).
 * `rebuildMs`: median of later compiles of the same snapshot (a rebuild after a change).
 * Each size uses its own Ingress indices so the first compile never meets a cached pattern.
 */
function benchCompile(count: number, firstIndex: number): { firstMs: number; rebuildMs: number } {
  const records: ClusterRecord[] = [];
  for (let index = firstIndex; index < firstIndex + count; index++)
    records.push(syntheticIngress(index), syntheticService(index));
  const snapshot = snapshotFromRecords(records);
  const runs: number[] = [];
  for (let run = 0; run < 6; run++) {
    const start = performance.now();
    const { table } = compile(snapshot, OPTIONS);
    runs.push(performance.now() - start);
    if (table.routeCount !== count * 3) throw new Error(`expected ${count * 3} routes, got ${table.routeCount}`);
  }
  return { firstMs: runs[0] as number, rebuildMs: median(runs.slice(1)) };
}

function syntheticPath(index: number): string {
  return `/team-${index % 1000}/svc-${Math.floor(index / 1000)}/v${index % 3}`;
}

/** One host holding `pathCount` literal paths, three segments deep. */
function bigTable(pathCount: number) {
  const paths = Array.from({ length: pathCount }, (_, index) => ({
    path: syntheticPath(index),
    pathType: index % 4 === 0 ? 'Exact' : 'Prefix',
    backend: { service: { name: 'svc', port: { number: 80 } } },
  }));
  const ingress = {
    kind: 'Ingress',
    metadata: { name: 'big', namespace: 'default' },
    spec: { rules: [{ host: 'big.example.com', http: { paths } }] },
  };
  return compile(snapshotFromRecords([record(ingress)]), OPTIONS).table;
}

/** 80% hits below a rule path, 20% misses, cycling over the given targets. */
function requestsFor(targets: readonly string[]): string[] {
  return Array.from({ length: 1024 }, (_, index) => {
    const target = targets[index % targets.length] as string;
    return index % 5 === 0 ? `${target}x/miss` : `${target}/deeper/item`;
  });
}

function nsPerMatch(table: ReturnType<typeof bigTable>, requests: readonly string[]): number {
  let sink = 0;
  const iterations = 400_000;
  const runs: number[] = [];
  for (let run = 0; run < 7; run++) {
    const start = process.hrtime.bigint();
    for (let index = 0; index < iterations; index++) {
      if (matchRequest(table, 'big.example.com', requests[index & 1023] as string).kind === 'route') sink++;
    }
    runs.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  if (sink === 0) throw new Error('no request matched');
  return median(runs.slice(2));
}

// The same ten targets exist in every table size, so the "same requests" column isolates the
// effect of table size on the lookup. The "spread" column sends 1,024 distinct targets across
// the whole table: at 100,000 paths that working set outgrows the CPU caches.
const SAME_REQUESTS = requestsFor(Array.from({ length: 10 }, (_, index) => syntheticPath(index)));

function benchMatch(pathCount: number): { same: number; spread: number } {
  const table = bigTable(pathCount);
  const spreadTargets = Array.from({ length: 1024 }, (_, index) => syntheticPath((index * 7919) % pathCount));
  return { same: nsPerMatch(table, SAME_REQUESTS), spread: nsPerMatch(table, requestsFor(spreadTargets)) };
}

let nextIndex = 0;
const compileRows = [100, 1_000, 10_000].map((count) => {
  const result = benchCompile(count, nextIndex);
  nextIndex += count;
  return { ingresses: count, routes: count * 3, ...result };
});
const matchRows = [10, 1_000, 100_000].map((count) => ({ paths: count, ...benchMatch(count) }));

console.log('Compile (each Ingress: one host, three paths; 10% wildcard hosts, 10% regex with unique patterns)');
console.log('  ingresses  routes   first ms  rebuild ms');
for (const row of compileRows) {
  const first = row.firstMs.toFixed(1).padStart(8);
  const rebuild = row.rebuildMs.toFixed(1).padStart(10);
  console.log(`  ${String(row.ingresses).padStart(9)}  ${String(row.routes).padStart(6)}   ${first}  ${rebuild}`);
}
const tenK = compileRows[2]?.firstMs ?? Number.NaN;
const compileVerdict = tenK < COMPILE_TARGET_MS ? 'MET' : 'MISSED';
console.log(
  `  target: 10,000 Ingresses, first compile < ${COMPILE_TARGET_MS} ms -> ${tenK.toFixed(1)} ms ${compileVerdict}`,
);
console.log('');
console.log('Match cost (one host, literal paths 3 segments deep; 80% hits below a rule, 20% misses; median ns/match)');
console.log('    paths   same requests   spread requests');
for (const row of matchRows) {
  console.log(
    `  ${String(row.paths).padStart(7)}   ${row.same.toFixed(1).padStart(13)}   ${row.spread.toFixed(1).padStart(15)}`,
  );
}
const ratio = (matchRows[2]?.same ?? Number.NaN) / (matchRows[0]?.same ?? Number.NaN);
const spreadRatio = (matchRows[2]?.spread ?? Number.NaN) / (matchRows[0]?.spread ?? Number.NaN);
const matchVerdict = ratio <= MATCH_RATIO_TARGET ? 'MET' : 'MISSED';
console.log(
  `  target: cost at 100,000 paths <= ${MATCH_RATIO_TARGET}x cost at 10 (same requests) -> ${ratio.toFixed(2)}x ${matchVerdict}`,
);
console.log(
  `  spread requests: ${spreadRatio.toFixed(2)}x (cache misses in a ~100k-node trie; not an algorithmic cost)`,
);
