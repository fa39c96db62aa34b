// Proves the e2e harness gives tests a real control plane, not a fake: a real
// kube-apiserver validates and stores objects in a real etcd, RBAC denies what
// it should, backends in a network namespace are reachable from the host, and
// the two failure modes an Ingress controller must survive (API server outage,
// 410 Gone after etcd compaction) can be produced on demand.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type EchoedRequest, helloBody } from './harness/backend.ts';
import { type ControlPlane, startControlPlane } from './harness/control-plane.ts';
import { eventually } from './harness/eventually.ts';
import { createNetns, type Netns, startBackend } from './harness/netns.ts';

const NAMESPACE = 'e2e-control-plane';
const INGRESS_CLASS = 'portico-e2e';
const HOST = 'hello-world.info';
const INGRESSES_PATH = `/apis/networking.k8s.io/v1/namespaces/${NAMESPACE}/ingresses`;

interface KubeObject {
  readonly metadata: {
    readonly name: string;
    readonly resourceVersion: string;
    readonly labels?: Record<string, string>;
  };
  readonly [field: string]: unknown;
}

interface WatchEvent {
  readonly type: string;
  readonly object: {
    readonly kind?: string;
    readonly code?: number;
    readonly reason?: string;
    readonly metadata?: { readonly name?: string };
  };
}

function manifests(podAddresses: readonly string[]): string {
  const endpoints = podAddresses
    .map((address) => `  - addresses: ["${address}"]\n    conditions: { ready: true }`)
    .join('\n');
  return `
apiVersion: v1
kind: Namespace
metadata: { name: ${NAMESPACE} }
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: { name: ${INGRESS_CLASS} }
spec: { controller: portico.dev/ingress-controller }
---
# No selector: with no controller-manager, the EndpointSlice below is the
# whole truth about where this Service's endpoints are.
apiVersion: v1
kind: Service
metadata: { name: web, namespace: ${NAMESPACE} }
spec:
  ports: [{ name: http, port: 80, targetPort: 8080, protocol: TCP }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  namespace: ${NAMESPACE}
  labels:
    kubernetes.io/service-name: web
    endpointslice.kubernetes.io/managed-by: e2e.portico.dev
addressType: IPv4
ports: [{ name: http, port: 8080, protocol: TCP }]
endpoints:
${endpoints}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: web, namespace: ${NAMESPACE} }
spec:
  ingressClassName: ${INGRESS_CLASS}
  rules:
    - host: ${HOST}
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: { service: { name: web, port: { number: 80 } } }
`;
}

function parseWatchEvents(body: string): WatchEvent[] {
  return body
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as WatchEvent);
}

describe('e2e control plane: real kube-apiserver and etcd', () => {
  let controlPlane: ControlPlane | undefined;
  let netns: Netns | undefined;

  function cp(): ControlPlane {
    assert.ok(controlPlane, 'control plane did not start');
    return controlPlane;
  }

  function ns(): Netns {
    assert.ok(netns, 'network namespace was not created');
    return netns;
  }

  async function getJson(kind: string, name: string, namespace?: string): Promise<KubeObject> {
    const args = ['get', kind, name, '-o', 'json', ...(namespace === undefined ? [] : ['--namespace', namespace])];
    return JSON.parse((await cp().kubectl(args)).stdout) as KubeObject;
  }

  before(async (t) => {
    const started = Date.now();
    controlPlane = await startControlPlane();
    t.diagnostic(`control plane ready at ${controlPlane.serverUrl} in ${Date.now() - started} ms`);
    netns = await createNetns({ podCount: 3 });
    t.diagnostic(`netns ${netns.name}: host ${netns.hostAddress}, pods ${netns.podAddresses.join(', ')}`);
  });

  // Runs whether or not the tests (or before) failed.
  after(async () => {
    await netns?.destroy();
    await controlPlane?.stop();
  });

  it('reports the pinned Kubernetes version', async () => {
    const version = JSON.parse((await cp().request('/version')).body) as { gitVersion: string; major: string };
    assert.match(version.gitVersion, /^v1\.\d+\.\d+$/);
    assert.equal(version.major, '1');
    const client = JSON.parse((await cp().kubectl(['version', '-o', 'json'])).stdout) as {
      clientVersion: { gitVersion: string };
      serverVersion: { gitVersion: string };
    };
    assert.equal(client.clientVersion.gitVersion, version.gitVersion);
    assert.equal(client.serverVersion.gitVersion, version.gitVersion);
  });

  it('stores Ingress, IngressClass, Service and EndpointSlice objects and reads them back', async () => {
    const applied = await cp().kubectl(['apply', '-f', '-'], { input: manifests(ns().podAddresses) });
    assert.match(applied.stdout, /ingress\.networking\.k8s\.io\/web created/);

    const ingress = (await getJson('ingress', 'web', NAMESPACE)) as KubeObject & {
      spec: {
        ingressClassName: string;
        rules: {
          host: string;
          http: {
            paths: {
              path: string;
              pathType: string;
              backend: { service: { name: string; port: { number: number } } };
            }[];
          };
        }[];
      };
    };
    assert.equal(ingress.spec.ingressClassName, INGRESS_CLASS);
    assert.equal(ingress.spec.rules[0]?.host, HOST);
    assert.deepEqual(ingress.spec.rules[0]?.http.paths[0], {
      path: '/',
      pathType: 'Prefix',
      backend: { service: { name: 'web', port: { number: 80 } } },
    });

    const ingressClass = (await getJson('ingressclass', INGRESS_CLASS)) as KubeObject & {
      spec: { controller: string };
    };
    assert.equal(ingressClass.spec.controller, 'portico.dev/ingress-controller');

    // The API server allocates the ClusterIP from --service-cluster-ip-range.
    const service = (await getJson('service', 'web', NAMESPACE)) as KubeObject & {
      spec: { clusterIP: string; ports: { port: number; targetPort: number }[] };
    };
    assert.match(service.spec.clusterIP, /^10\.0\.0\.\d+$/);
    assert.deepEqual(
      service.spec.ports.map((port) => [port.port, port.targetPort]),
      [[80, 8080]],
    );

    const slice = (await getJson('endpointslice', 'web-1', NAMESPACE)) as KubeObject & {
      endpoints: { addresses: string[]; conditions: { ready: boolean } }[];
      ports: { name: string; port: number }[];
    };
    assert.equal(slice.metadata.labels?.['kubernetes.io/service-name'], 'web');
    assert.deepEqual(
      slice.endpoints.flatMap((endpoint) => endpoint.addresses),
      [...ns().podAddresses],
    );
    assert.ok(slice.endpoints.every((endpoint) => endpoint.conditions.ready));
    assert.deepEqual(slice.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
  });

  it('rejects loopback endpoint addresses (why backends live in a network namespace)', async () => {
    const result = await cp().kubectl(['apply', '-f', '-'], {
      allowFailure: true,
      input: JSON.stringify({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: 'loopback', namespace: NAMESPACE, labels: { 'kubernetes.io/service-name': 'web' } },
        addressType: 'IPv4',
        endpoints: [{ addresses: ['127.0.0.1'] }],
      }),
    });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /loopback/);
  });

  it('denies a service account without RBAC bindings', async () => {
    await cp().kubectl(['create', 'serviceaccount', 'no-rbac', '--namespace', NAMESPACE]);
    const kubeconfigPath = await cp().tokenFor(NAMESPACE, 'no-rbac');

    // The token authenticates...
    const whoami = JSON.parse((await cp().kubectl(['auth', 'whoami', '-o', 'json'], { kubeconfigPath })).stdout) as {
      status: { userInfo: { username: string } };
    };
    assert.equal(whoami.status.userInfo.username, `system:serviceaccount:${NAMESPACE}:no-rbac`);

    // ...and RBAC, with no binding for it, refuses.
    const denied = await cp().kubectl(['get', 'ingresses', '--all-namespaces'], { kubeconfigPath, allowFailure: true });
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /Forbidden/);
    assert.match(denied.stderr, new RegExp(`system:serviceaccount:${NAMESPACE}:no-rbac`));
  });

  it('serves a backend inside the network namespace to the host', async () => {
    const address = ns().podAddresses[0];
    assert.ok(address);
    const backend = await startBackend(ns(), { address, name: 'web-1', version: '2' });

    const hello = await fetch(`${backend.url}/`);
    assert.equal(hello.status, 200);
    assert.equal(hello.headers.get('x-backend-name'), 'web-1');
    assert.equal(await hello.text(), helloBody('web-1', '2'));

    const echo = await fetch(`${backend.url}/echo/some/path?q=1`, {
      method: 'POST',
      headers: { 'x-e2e': 'yes' },
      body: 'ping',
    });
    const echoed = (await echo.json()) as EchoedRequest;
    assert.equal(echoed.method, 'POST');
    assert.equal(echoed.url, '/echo/some/path?q=1');
    assert.equal(echoed.headers['x-e2e'], 'yes');
    assert.equal(echoed.body, 'ping');

    // The second "pod" address is free for another backend.
    const other = ns().podAddresses[1];
    assert.ok(other);
    const second = await startBackend(ns(), { address: other, name: 'web-2' });
    assert.equal(await (await fetch(second.url)).text(), helloBody('web-2', '1'));
    await second.stop();
    await backend.stop();
    await assert.rejects(fetch(backend.url, { signal: AbortSignal.timeout(2_000) }));
  });

  it('stops and restarts the API server on the same URL with data intact', async (t) => {
    const serverUrl = cp().serverUrl;
    const beforeOutage = await getJson('ingress', 'web', NAMESPACE);

    await cp().stopApiServer();
    assert.equal(cp().apiServerRunning, false);
    await assert.rejects(cp().request('/readyz', { timeoutMs: 2_000 }), /ECONNREFUSED/);
    const offline = await cp().kubectl(['get', 'ingress', 'web', '--namespace', NAMESPACE, '--request-timeout=2s'], {
      allowFailure: true,
    });
    assert.notEqual(offline.code, 0);

    const restartStarted = Date.now();
    await cp().startApiServer();
    t.diagnostic(`kube-apiserver restarted in ${Date.now() - restartStarted} ms`);
    assert.equal(cp().serverUrl, serverUrl);

    const afterRestart = await eventually(() => getJson('ingress', 'web', NAMESPACE), {
      timeoutMs: 30_000,
      description: 'the Ingress to be readable after the restart',
    });
    assert.equal(afterRestart.metadata.resourceVersion, beforeOutage.metadata.resourceVersion);
  });

  it('compacting etcd turns a watch from an old resourceVersion into 410 Gone', async () => {
    const oldVersion = (await getJson('ingress', 'web', NAMESPACE)).metadata.resourceVersion;
    await cp().kubectl(['annotate', 'ingress', 'web', '--namespace', NAMESPACE, 'e2e.portico.dev/touched=1']);

    // Control: before compaction, resuming from the old version replays the change.
    // timeoutSeconds makes the server end the stream, so the body is complete.
    const replay = await cp().request(`${INGRESSES_PATH}?watch=1&resourceVersion=${oldVersion}&timeoutSeconds=1`);
    assert.equal(replay.status, 200);
    const replayed = parseWatchEvents(replay.body);
    assert.equal(replayed[0]?.type, 'MODIFIED');
    assert.equal(replayed[0]?.object.metadata?.name, 'web');

    const { revision } = await cp().compactEtcd();
    assert.ok(revision > Number(oldVersion), `compacted at ${revision}, after ${oldVersion}`);

    // A watch is answered 200, and then its first event says 410 Expired.
    const expiredWatch = await cp().request(`${INGRESSES_PATH}?watch=1&resourceVersion=${oldVersion}&timeoutSeconds=5`);
    assert.equal(expiredWatch.status, 200);
    const [event] = parseWatchEvents(expiredWatch.body);
    assert.equal(event?.type, 'ERROR');
    assert.equal(event?.object.kind, 'Status');
    assert.equal(event?.object.code, 410);
    assert.equal(event?.object.reason, 'Expired');

    // A list pinned to the old version is refused outright.
    const expiredList = await cp().request(
      `${INGRESSES_PATH}?resourceVersion=${oldVersion}&resourceVersionMatch=Exact`,
    );
    assert.equal(expiredList.status, 410);

    // Current data is unaffected: a fresh list works.
    const fresh = await cp().request(INGRESSES_PATH);
    assert.equal(fresh.status, 200);
  });
});
