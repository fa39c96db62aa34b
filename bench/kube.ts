// `npm run bench:kube` (a benchmark, not a test): against the e2e harness's real
// kube-apiserver, measures
//   - Ingress created → routable (20 Ingresses, p50/p99),
//   - EndpointSlice updated → traffic shifted to the new endpoint (100 updates, p50/p99),
//   - Portico start → /readyz with 1,000 Ingresses (and their Services) already in the cluster.
// "Routable" is observed from outside, by polling Portico every 2 ms from the moment the API
// server accepted the write, so each figure includes the API server's watch delivery,
// Portico's debounce (50 ms hold-off for route changes) and the poll granularity.

import { execFileSync } from 'node:child_process';
import { startControlPlane } from '../e2e/harness/control-plane.ts';
import { createNetns, startBackend } from '../e2e/harness/netns.ts';
import {
  documents,
  endpointSliceYaml,
  ingressClassYaml,
  ingressYaml,
  serviceYaml,
} from '../e2e/support/kube-objects.ts';
import { httpGet, PorticoProcess } from '../e2e/support/portico-process.ts';
import { percentile } from './http/report.ts';

const POLL_INTERVAL_MS = 2;
const WAIT_LIMIT_MS = 30_000;
const INGRESS_SAMPLES = 20;
const SLICE_UPDATES = 100;
const READY_INGRESSES = 1_000;

async function until(check: () => Promise<boolean>): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < WAIT_LIMIT_MS) {
    if (await check().catch(() => false)) return performance.now() - start;
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
  throw new Error(`not seen within ${WAIT_LIMIT_MS} ms`);
}

function summary(label: string, values: readonly number[]): string {
  return `${label.padEnd(44)} n=${String(values.length).padStart(4)}  p50 ${percentile(values, 0.5).toFixed(1).padStart(7)} ms  p99 ${percentile(values, 0.99).toFixed(1).padStart(7)} ms`;
}

if (!process.env.PORTICO_E2E_BIN) {
  process.env.PORTICO_E2E_BIN = execFileSync('bash', ['e2e/provision/build-binaries.sh'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

const controlPlane = await startControlPlane();
const netns = await createNetns({ podCount: 2 });
const stops: (() => Promise<unknown>)[] = [];
try {
  const [a, b] = netns.podAddresses as [string, string];
  for (const [address, name] of [
    [a, 'backend-a'],
    [b, 'backend-b'],
  ] as const) {
    const backend = await startBackend(netns, { address, name });
    stops.push(() => backend.stop());
  }
  const apply = (yaml: string) => controlPlane.kubectl(['apply', '-f', '-'], { input: yaml });
  await apply(
    documents(
      ingressClassYaml('portico'),
      serviceYaml('default', 'web'),
      endpointSliceYaml('default', 'web-1', 'web', [{ address: a }]),
    ),
  );
  const portico = await PorticoProcess.start(controlPlane, { args: ['--log-level', 'warn'] });
  stops.push(() => portico.stop());

  // Timed writes go straight to the API (no kubectl process start inside the measurement);
  // the clock starts when the API server has accepted the write.
  const writeObject = async (method: 'POST' | 'PATCH', path: string, body: unknown) => {
    const response = await controlPlane.request(path, {
      method,
      headers: { 'content-type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json' },
      body: JSON.stringify(body),
    });
    if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${response.body}`);
  };
  const ingressJson = (name: string, host: string) => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: 'default' },
    spec: {
      ingressClassName: 'portico',
      rules: [
        {
          host,
          http: {
            paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 8080 } } } }],
          },
        },
      ],
    },
  });

  const createToRoutable: number[] = [];
  for (let index = 0; index < INGRESS_SAMPLES; index++) {
    const host = `bench-${index}.example`;
    await writeObject(
      'POST',
      '/apis/networking.k8s.io/v1/namespaces/default/ingresses',
      ingressJson(`bench-${index}`, host),
    );
    createToRoutable.push(await until(async () => (await httpGet(portico.httpPort, host, '/', 1_000)).status === 200));
  }

  const sliceToShift: number[] = [];
  for (let index = 0; index < SLICE_UPDATES; index++) {
    const target = index % 2 === 0 ? { address: b, name: 'backend-b' } : { address: a, name: 'backend-a' };
    await writeObject('PATCH', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/web-1', {
      endpoints: [{ addresses: [target.address], conditions: { ready: true } }],
    });
    sliceToShift.push(
      await until(async () =>
        (await httpGet(portico.httpPort, 'bench-0.example', '/', 1_000)).body.includes(`Hostname: ${target.name}`),
      ),
    );
  }

  const manyObjects: string[] = [];
  for (let index = 0; index < READY_INGRESSES; index++) {
    manyObjects.push(
      serviceYaml('scale', `svc-${index}`, 'http', 8080, true),
      ingressYaml('scale', `ing-${index}`, `scale-${index}.example`, [{ path: '/', service: `svc-${index}` }]),
    );
  }
  await apply(documents(`apiVersion: v1\nkind: Namespace\nmetadata: { name: scale }\n`, ...manyObjects));
  const startedAt = performance.now();
  const second = await PorticoProcess.start(controlPlane, {
    args: ['--log-level', 'warn'],
    name: 'portico-scale',
    waitReady: false,
  });
  stops.push(() => second.stop());
  const timeToReady = await until(async () => (await second.readyz()) === 200);
  const lastHost = `scale-${READY_INGRESSES - 1}.example`;
  const lastStatus = (await second.get(lastHost, '/')).status;

  console.log('Portico against a real kube-apiserver (watch cache off, etcd on loopback), polled every 2 ms');
  console.log(summary('Ingress created -> routable', createToRoutable));
  console.log(summary('EndpointSlice updated -> traffic shifted', sliceToShift));
  console.log(
    `${'start -> ready with 1,000 Ingresses'.padEnd(44)} ${(performance.now() - startedAt).toFixed(0)} ms wall (readyz polling: ${timeToReady.toFixed(0)} ms); last Ingress answers ${lastStatus} (503 expected: no endpoints)`,
  );
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => {});
  await netns.destroy();
  await controlPlane.stop();
}
