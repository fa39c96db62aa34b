// Portico's RBAC is exactly charts/portico/files/{clusterrole,role}-rules.yaml: with a
// ServiceAccount token bound to those rules and nothing else, everything works (routes, Ingress
// status, the leader Lease, Events); and taking away any one rule, or one verb of it, makes the
// feature that rule's comment names fail, with a log line that says which rule is missing.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ControlPlane, startControlPlane } from '../harness/control-plane.ts';
import { eventually } from '../harness/eventually.ts';
import { type Backend, createNetns, type Netns, startBackend } from '../harness/netns.ts';
import {
  documents,
  endpointSliceYaml,
  ingressClassYaml,
  ingressYaml,
  namespaceYaml,
  serviceYaml,
} from '../support/kube-objects.ts';
import { hostnameOf, PorticoProcess } from '../support/portico-process.ts';
import { ingressEvents } from '../support/ingress-events.ts';
import {
  accessesOf,
  applyObjects,
  canI,
  describeAccess,
  loadRules,
  type PolicyRule,
  rbacObjects,
  withoutVerbs,
} from '../support/rbac.ts';

const SUBJECT = { namespace: 'portico-system', serviceAccount: 'portico' } as const;
const STATUS_ADDRESS = '203.0.113.10';
const LEASE = 'portico-leader';
const HOST = 'hello-world.info';
/** an Ingress created after Portico's first list */
const LATE_HOST = 'late.example';
const CLUSTER_RULES = loadRules('clusterrole-rules.yaml');
const ROLE_RULES = loadRules('role-rules.yaml');
const EVERY_ACCESS = [...accessesOf(CLUSTER_RULES), ...accessesOf(ROLE_RULES, SUBJECT.namespace)];
/** failures these tests wait for come from the first request, or the first retry */
const FAILURE_TIMEOUT_MS = 15_000;

/** the list+watch rules, and how Portico's log names each collection */
const WATCHED = [
  { resource: 'ingressclasses', collection: 'networking.k8s.io ingressclasses (all namespaces)' },
  { resource: 'ingresses', collection: 'networking.k8s.io ingresses (all namespaces)' },
  { resource: 'services', collection: 'core services (all namespaces)' },
  { resource: 'endpointslices', collection: 'discovery.k8s.io endpointslices (all namespaces)' },
  { resource: 'secrets', collection: 'core secrets (all namespaces)' },
] as const;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** JSON log lines whose msg is exactly `message` */
function logLines(log: string, message: string): string[] {
  return log.split('\n').filter((line) => line.includes(`"msg":${JSON.stringify(message)}`));
}

describe('RBAC: Portico runs on exactly the rules in charts/portico/files', () => {
  let controlPlane: ControlPlane;
  let netns: Netns;
  const backends: Backend[] = [];
  let kubeconfigPath: string;
  const kubectl = (args: readonly string[]) => controlPlane.kubectl(args);

  /** Applies the ClusterRole and Role with these rules, and waits until the authorizer enforces them. */
  async function grant(clusterRules: readonly PolicyRule[], roleRules: readonly PolicyRule[]): Promise<void> {
    await applyObjects(controlPlane, rbacObjects(SUBJECT, clusterRules, roleRules));
    const granted = new Set(
      [...accessesOf(clusterRules), ...accessesOf(roleRules, SUBJECT.namespace)].map(describeAccess),
    );
    await eventually(
      async () => {
        const wrong: string[] = [];
        for (const access of EVERY_ACCESS) {
          const allowed = await canI(controlPlane, SUBJECT, access);
          if (allowed !== granted.has(describeAccess(access))) wrong.push(`${describeAccess(access)}: ${allowed}`);
        }
        assert.deepEqual(wrong, [], 'the authorizer does not enforce the applied rules yet');
      },
      { timeoutMs: 10_000, description: 'the API server to enforce the new rules' },
    );
  }

  /** Portico as the ServiceAccount, Lease in portico-system; stopped after `body`, whatever happens. */
  async function withPortico(
    name: string,
    options: { readonly waitReady: boolean },
    body: (portico: PorticoProcess) => Promise<void>,
  ): Promise<void> {
    const portico = await PorticoProcess.start(controlPlane, {
      kubeconfigPath,
      name: `portico-${name}`,
      env: { POD_NAMESPACE: SUBJECT.namespace },
      args: ['--publish-status-address', STATUS_ADDRESS],
      waitReady: options.waitReady,
    });
    try {
      await body(portico);
    } finally {
      await portico.stop();
    }
  }

  async function waitForLog(portico: PorticoProcess, pattern: RegExp, description: string): Promise<string> {
    return eventually(
      () => {
        const line = portico
          .log()
          .split('\n')
          .find((entry) => pattern.test(entry));
        assert.ok(line, `no log line matches ${pattern}`);
        return line;
      },
      { timeoutMs: FAILURE_TIMEOUT_MS, description },
    );
  }

  async function assertRoutes(portico: PorticoProcess): Promise<void> {
    await eventually(async () => {
      const root = await portico.get(HOST, '/');
      const v2 = await portico.get(HOST, '/v2');
      assert.deepEqual(
        [root.status, hostnameOf(root.body), v2.status, hostnameOf(v2.body)],
        [200, 'web-1', 200, 'web2-1'],
      );
    });
  }

  async function statusAddresses(): Promise<string[]> {
    const ingress = JSON.parse(
      (await kubectl(['get', 'ingress', 'example-ingress', '-n', 'default', '-o', 'json'])).stdout,
    ) as {
      status?: { loadBalancer?: { ingress?: { ip?: string }[] } };
    };
    return (ingress.status?.loadBalancer?.ingress ?? []).map((entry) => entry.ip ?? '');
  }

  async function clearStatus(): Promise<void> {
    await kubectl([
      'patch',
      'ingress',
      'example-ingress',
      '-n',
      'default',
      '--subresource=status',
      '--type=merge',
      '-p',
      '{"status":{"loadBalancer":{"ingress":null}}}',
    ]);
    assert.deepEqual(await statusAddresses(), []);
  }

  async function leaseHolder(): Promise<string | undefined> {
    const lease = await controlPlane.kubectl(['get', 'lease', LEASE, '-n', SUBJECT.namespace, '-o', 'json'], {
      allowFailure: true,
    });
    if (lease.code !== 0) return undefined;
    return (JSON.parse(lease.stdout) as { spec: { holderIdentity?: string } }).spec.holderIdentity;
  }

  /** the reasons of the Events on Ingress default/broken */
  /** the Events on Ingress default/broken */
  const brokenEvents = () => ingressEvents(controlPlane, 'default', 'broken');

  async function deleteBrokenEvents(): Promise<void> {
    await kubectl(['delete', 'events', '-n', 'default', '--field-selector', 'involvedObject.name=broken']);
  }

  /**
   * With only these rules: no status and no Events to begin with, then a Portico that must become
   * ready and route (every case below keeps the rules routing needs), then `body`.
   */
  async function withServingPortico(
    name: string,
    rules: { readonly cluster: readonly PolicyRule[]; readonly role: readonly PolicyRule[] },
    body: (portico: PorticoProcess) => Promise<void>,
  ): Promise<void> {
    await grant(rules.cluster, rules.role);
    await clearStatus();
    await deleteBrokenEvents();
    await withPortico(name, { waitReady: true }, async (portico) => {
      await assertRoutes(portico);
      await body(portico);
    });
  }

  before(async () => {
    controlPlane = await startControlPlane();
    netns = await createNetns({ podCount: 2 });
    const [a, b] = netns.podAddresses as [string, string];
    backends.push(await startBackend(netns, { address: a, name: 'web-1' }));
    backends.push(await startBackend(netns, { address: b, name: 'web2-1', version: '2.0.0' }));
    await controlPlane.kubectl(['apply', '-f', '-'], {
      input: documents(
        ingressClassYaml('portico'),
        serviceYaml('default', 'web'),
        serviceYaml('default', 'web2'),
        endpointSliceYaml('default', 'web-1', 'web', [{ address: a }]),
        endpointSliceYaml('default', 'web2-1', 'web2', [{ address: b }]),
        ingressYaml('default', 'example-ingress', HOST, [
          { path: '/', service: 'web' },
          { path: '/v2', service: 'web2' },
        ]),
        // A diagnostic for the Event recorder: its backend Service does not exist.
        ingressYaml('default', 'broken', 'broken.example', [{ path: '/', service: 'missing' }]),
        namespaceYaml(SUBJECT.namespace),
      ),
    });
    await kubectl(['create', 'serviceaccount', SUBJECT.serviceAccount, '-n', SUBJECT.namespace]);
    kubeconfigPath = await controlPlane.tokenFor(SUBJECT.namespace, SUBJECT.serviceAccount);
  });

  after(async () => {
    for (const backend of backends) await backend.stop();
    await netns?.destroy();
    await controlPlane?.stop();
  });

  it('works with every rule: routes serve, status is written, the Lease is held, an Event is recorded', async (t) => {
    await grant(CLUSTER_RULES, ROLE_RULES);
    t.diagnostic(`${EVERY_ACCESS.length} verbs granted: ${EVERY_ACCESS.map(describeAccess).join(', ')}`);
    await withPortico('all-rules', { waitReady: true }, async (portico) => {
      await assertRoutes(portico);
      await eventually(async () => assert.deepEqual(await statusAddresses(), [STATUS_ADDRESS]), {
        description: 'the Ingress status to carry the published address',
      });
      assert.equal(await leaseHolder(), portico.name);
      const events = await eventually(
        async () => {
          const found = (await brokenEvents()).filter((event) => event.reason === 'ServiceNotFound');
          assert.equal(found.length, 1, 'one ServiceNotFound Event on Ingress default/broken');
          return found;
        },
        { description: 'the Event on the broken Ingress' },
      );
      assert.equal(events[0]?.type, 'Warning');
      assert.match(events[0]?.message ?? '', /service default\/missing does not exist/);
      const log = portico.log();
      assert.doesNotMatch(log, /RBAC denies|\b403\b/, 'nothing was denied');
    });
  });

  for (const { resource, collection } of WATCHED) {
    it(`without the ${resource} rule: never ready, and the log says RBAC denies list on ${resource}`, async () => {
      await grant(withoutVerbs(CLUSTER_RULES, resource), ROLE_RULES);
      await withPortico(`no-${resource}`, { waitReady: false }, async (portico) => {
        const line = await waitForLog(
          portico,
          new RegExp(escapeRegExp(`"msg":"list failed: RBAC denies list on ${collection}; retrying"`)),
          `the list of ${resource} to be reported as denied`,
        );
        assert.match(line, /"level":40/, 'a warning');
        assert.match(line, /403/, 'quotes the API server answer');
        assert.match(line, new RegExp(`cannot list resource \\\\"${resource}\\\\"`));
        // Ready only once every resource has been listed: without this one, never.
        assert.equal(await portico.readyz(), 503);
        await assert.rejects(
          portico.get(HOST, '/'),
          /ECONNREFUSED/,
          'the proxy does not listen before the first table',
        );
      });
    });

    it(`without watch on ${resource}: serves, lists every 10 s instead, and the log says RBAC denies watch on ${resource}`, async () => {
      const rules = { cluster: withoutVerbs(CLUSTER_RULES, resource, ['watch']), role: ROLE_RULES };
      await withServingPortico(`no-watch-${resource}`, rules, async (portico) => {
        const line = await waitForLog(
          portico,
          new RegExp(
            escapeRegExp(`"msg":"watch failed: RBAC denies watch on ${collection}; listing every 10 s instead"`),
          ),
          `the watch of ${resource} to be reported as denied`,
        );
        assert.match(line, /"level":40/);
        if (resource !== 'ingresses') return;
        // An Ingress made after the first list is seen by a later one, not never.
        await controlPlane.kubectl(['apply', '-f', '-'], {
          input: documents(ingressYaml('default', 'late', LATE_HOST, [{ path: '/', service: 'web' }])),
        });
        try {
          await eventually(
            async () => {
              const late = await portico.get(LATE_HOST, '/');
              assert.deepEqual([late.status, hostnameOf(late.body)], [200, 'web-1']);
            },
            { timeoutMs: 30_000, description: 'the Ingress created after start to be routed by a relist' },
          );
        } finally {
          await kubectl(['delete', 'ingress', 'late', '-n', 'default']);
        }
      });
    });
  }

  it('without patch on ingresses/status: serves, writes no status, and says RBAC denies the patch', async () => {
    const rules = { cluster: withoutVerbs(CLUSTER_RULES, 'ingresses/status'), role: ROLE_RULES };
    await withServingPortico('no-status', rules, async (portico) => {
      await waitForLog(
        portico,
        /"msg":"cannot write Ingress status: RBAC denies patch on networking\.k8s\.io ingresses\/status"/,
        'the status patch to be reported as denied',
      );
      assert.deepEqual(await statusAddresses(), []);
      // The other leader duties still work.
      await eventually(async () => assert.equal((await brokenEvents()).length, 1), { description: 'the Event' });
    });
  });

  it('without create on events: records no Event, says RBAC denies it, and still writes status', async () => {
    const rules = { cluster: withoutVerbs(CLUSTER_RULES, 'events'), role: ROLE_RULES };
    await withServingPortico('no-events', rules, async (portico) => {
      const line = await waitForLog(
        portico,
        /"msg":"cannot record Event: RBAC denies create on events"/,
        'the Event to be reported as denied',
      );
      assert.match(line, /"ingress":"default\/broken"/);
      assert.deepEqual(await brokenEvents(), []);
      await eventually(async () => assert.deepEqual(await statusAddresses(), [STATUS_ADDRESS]), {
        description: 'the status',
      });
    });
  });

  /**
   * Without the Lease, Portico still serves (every replica does) but never leads, so it writes no
   * status and records no Event. It retries every 2 s: by the second denial it has had every chance.
   */
  const LEASE_CASES = [
    {
      title: 'without the Lease rule: serves, never leads, so writes no status and records no Event',
      removed: undefined,
      denied: 'get',
      prepare: async () => {},
    },
    {
      title: 'without update on leases: cannot renew or take over the Lease, so never leads',
      removed: ['update'],
      denied: 'update',
      // The Lease exists (the last Portico with the rule released it on its way out): taking it is an update.
      prepare: async () => assert.equal(await leaseHolder(), ''),
    },
    {
      title: 'without create on leases: cannot create the first Lease, so never leads',
      removed: ['create'],
      denied: 'create',
      prepare: async () => {
        await kubectl(['delete', 'lease', LEASE, '-n', SUBJECT.namespace]);
      },
    },
  ] as const;

  for (const { title, removed, denied, prepare } of LEASE_CASES) {
    it(title, async () => {
      const rules = { cluster: CLUSTER_RULES, role: withoutVerbs(ROLE_RULES, 'leases', removed) };
      await prepare();
      await withServingPortico(`no-lease-${denied}`, rules, async (portico) => {
        const message = `lease update failed: RBAC denies ${denied} on coordination.k8s.io leases in namespace ${SUBJECT.namespace}`;
        await eventually(() => assert.ok(logLines(portico.log(), message).length >= 2, `"${message}" logged twice`), {
          timeoutMs: FAILURE_TIMEOUT_MS,
          description: `the Lease ${denied} to be denied twice`,
        });
        assert.equal(logLines(portico.log(), 'became leader').length, 0, 'never led');
        assert.deepEqual(await statusAddresses(), [], 'no status without the lead');
        assert.deepEqual(await brokenEvents(), [], 'no Event without the lead');
      });
    });
  }
});
