// The Helm chart (charts/portico) against the real kube-apiserver: lint, schema, server-side
// dry runs of every values file, and README's minikube walkthrough as far as a cluster without
// nodes allows. Nothing runs pods here, so after `helm install` Portico runs as a local process
// with exactly the args and env of the installed Deployment and a token of the chart's
// ServiceAccount: the chart's RBAC, flags and Service wiring are what make it work or not.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { DEFAULT_SHUTDOWN_GRACE_PERIOD_MS, DEFAULT_SHUTDOWN_TIMEOUT_MS } from '../src/config/config.ts';
import { imageCommand, readDockerfile } from '../test/packaging/read-dockerfile.ts';
import { binaryPath } from './harness/binaries.ts';
import { type ControlPlane, startControlPlane } from './harness/control-plane.ts';
import { eventually } from './harness/eventually.ts';
import { findFreePort } from './harness/free-port.ts';
import { ManagedProcess } from './harness/managed-process.ts';
import { type Backend, createNetns, type Netns, startBackend } from './harness/netns.ts';
import { type CommandResult, runCommand, type RunCommandOptions } from './harness/run-command.ts';
import { endpointSliceYaml, ingressYaml, namespaceYaml } from './support/kube-objects.ts';
import { type HttpAnswer, httpGet } from './support/portico-process.ts';
import { ingressEvents } from './support/ingress-events.ts';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const CHART = join(REPO, 'charts', 'portico');
const CLI = join(REPO, 'src', 'cli.ts');
const VALUES_FILES: Readonly<Record<string, readonly string[]>> = {
  default: [],
  minikube: ['-f', join(CHART, 'values-minikube.yaml')],
  everything: ['-f', join(REPO, 'e2e', 'chart', 'everything.yaml')],
  'bring-your-own': ['-f', join(REPO, 'e2e', 'chart', 'bring-your-own.yaml')],
};
/** Stands in for `minikube ip` (TEST-NET-3, RFC 5737). */
const MINIKUBE_IP = '203.0.113.49';
/** What a cloud load balancer would write into the Service's status. */
const LOAD_BALANCER_IP = '198.51.100.7';
/** Where rendered objects are dry-run; it enforces the "restricted" Pod Security Standard. */
const DRY_RUN_NAMESPACE = 'restricted';

interface Metadata {
  readonly name: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: Metadata;
  readonly [field: string]: unknown;
}

interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: { readonly fieldRef?: { readonly fieldPath: string } };
}

interface Probe {
  readonly httpGet: { readonly path: string; readonly port: string | number };
}

interface Container {
  readonly name: string;
  readonly command?: readonly string[];
  readonly args: readonly string[];
  readonly env: readonly EnvVar[];
  readonly ports: readonly { readonly name: string; readonly containerPort: number }[];
  readonly livenessProbe: Probe;
  readonly readinessProbe: Probe;
  readonly lifecycle?: unknown;
  readonly securityContext: {
    readonly allowPrivilegeEscalation: boolean;
    readonly readOnlyRootFilesystem: boolean;
    readonly runAsNonRoot: boolean;
    readonly capabilities: { readonly drop: readonly string[] };
  };
}

interface PodSpec {
  readonly serviceAccountName: string;
  readonly terminationGracePeriodSeconds: number;
  readonly securityContext: {
    readonly runAsNonRoot: boolean;
    readonly runAsUser: number;
    readonly seccompProfile: { readonly type: string };
  };
  readonly containers: readonly Container[];
}

interface Deployment extends KubeObject {
  readonly spec: { readonly template: { readonly metadata: Metadata; readonly spec: PodSpec } };
}

interface ServicePort {
  readonly name: string;
  readonly port: number;
  readonly targetPort: string | number;
}

function objectsOf(yaml: string): KubeObject[] {
  return parseAllDocuments(yaml)
    .map((document) => document.toJS() as KubeObject | null)
    .filter((object): object is KubeObject => object !== null);
}

function find<T extends KubeObject = KubeObject>(objects: readonly KubeObject[], kind: string, name?: string): T {
  const found = objects.find((object) => object.kind === kind && (name === undefined || object.metadata.name === name));
  assert.ok(found, `a ${kind}${name === undefined ? '' : ` named ${name}`} among ${describeObjects(objects)}`);
  return found as T;
}

function describeObjects(objects: readonly KubeObject[]): string {
  return objects.map((object) => `${object.kind}/${object.metadata.name}`).join(', ');
}

function controllerContainer(deployment: Deployment): Container {
  const container = deployment.spec.template.spec.containers.find((candidate) => candidate.name === 'portico');
  assert.ok(container, 'the Deployment has a container named portico');
  return container;
}

function containerPort(container: Container, name: string): number {
  const port = container.ports.find((candidate) => candidate.name === name)?.containerPort;
  assert.ok(port, `container port ${name}`);
  return port;
}

/** Splits a shell command as sh would for the words README uses: quotes, backslash-newlines. */
function shellWords(command: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (const char of command.replace(/\\\n\s*/g, ' ')) {
    if (quote !== undefined) {
      if (char === quote) quote = undefined;
      else word = (word ?? '') + char;
    } else if (char === '"' || char === "'") {
      quote = char;
      word ??= '';
    } else if (/\s/.test(char)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + char;
    }
  }
  assert.equal(quote, undefined, `unbalanced quotes in ${command}`);
  if (word !== undefined) words.push(word);
  return words;
}

/** README's minikube walkthrough: the code blocks the test replays. */
function readmeWalkthrough(): { helmInstall: string[]; exampleIngress: string; expectedBodies: string[] } {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const start = readme.indexOf('### Walkthrough: minikube');
  assert.ok(start >= 0, 'README has the minikube walkthrough');
  const end = readme.indexOf('\n## ', start);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const blocks = [...section.matchAll(/^( *)```(\w*)\n([\s\S]*?)^\1```$/gm)].map((match) => ({
    language: match[2] ?? '',
    // Blocks sit in a numbered list: drop the list's indentation.
    text: (match[3] ?? '').replace(new RegExp(`^${match[1] ?? ''}`, 'gm'), ''),
  }));
  const install = blocks.find((block) => block.language === 'sh' && block.text.includes('helm install'));
  assert.ok(install, 'a sh block with helm install');
  const command = install.text.slice(install.text.indexOf('helm install')).split(/\n(?!\s)/)[0] ?? '';
  const ingress = blocks.find((block) => block.language === 'yaml' && block.text.includes('name: example-ingress'));
  assert.ok(ingress, 'a yaml block with example-ingress');
  const expectedBodies = blocks
    .filter((block) => block.language === '' && block.text.startsWith('Hello, world!'))
    .map((block) => block.text);
  return { helmInstall: shellWords(command), exampleIngress: ingress.text, expectedBodies };
}

/** hello-app's answer, with the pod's name as a pattern (pod names end in random suffixes). */
function helloPattern(readmeBody: string): RegExp {
  const escaped = readmeBody.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${escaped.replace(/Hostname: (web2?)-\S+/, 'Hostname: $1-[a-z0-9]+-[a-z0-9]+')}$`);
}

/** `curl -k https://<host><path>`: SNI and Host are the host, the certificate is not checked. */
function httpsGet(port: number, host: string, path: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const outgoing = httpsRequest(
      { host: '127.0.0.1', port, path, servername: host, headers: { host }, rejectUnauthorized: false, timeout: 5_000 },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            headers: response.headers,
          }),
        );
        response.on('error', reject);
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error(`GET https://${host}${path} timed out`)));
    outgoing.on('error', reject);
    outgoing.end();
  });
}

describe('Helm chart charts/portico', () => {
  let controlPlane: ControlPlane;
  let helmPath: string;
  let helmHome: string;

  function helm(args: readonly string[], options: RunCommandOptions = {}): Promise<CommandResult> {
    return runCommand(helmPath, [...args, '--kubeconfig', controlPlane.kubeconfigPath], {
      ...options,
      // Helm's cache, config and data directories: the test's own, never $HOME's.
      env: {
        ...process.env,
        HELM_CACHE_HOME: join(helmHome, 'cache'),
        HELM_CONFIG_HOME: join(helmHome, 'config'),
        HELM_DATA_HOME: join(helmHome, 'data'),
      },
    });
  }

  async function render(values: readonly string[], namespace = 'portico'): Promise<KubeObject[]> {
    return objectsOf((await helm(['template', 'portico', CHART, '--namespace', namespace, ...values])).stdout);
  }

  const kubectl = (args: readonly string[], input?: string) =>
    controlPlane.kubectl(args, input === undefined ? {} : { input });

  before(async () => {
    controlPlane = await startControlPlane();
    helmPath = binaryPath('helm', controlPlane.binDir);
    helmHome = join(controlPlane.directory, 'helm');
    await mkdir(helmHome, { recursive: true });
  });

  after(async () => {
    await controlPlane?.stop();
  });

  it('passes helm lint --strict with the default values and every values file', async () => {
    for (const [name, values] of Object.entries(VALUES_FILES)) {
      const result = await helm(['lint', '--strict', CHART, ...values], { allowFailure: true });
      assert.equal(result.code, 0, `${name}: ${result.stdout}${result.stderr}`);
      assert.match(result.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/, name);
    }
  });

  it('rejects misspelt keys and bad values through values.schema.json, naming the value', async () => {
    const cases: [readonly string[], RegExp][] = [
      [['--set', 'watchNamespaces={team-a}'], /additional properties 'watchNamespaces' not allowed/],
      [['--set', 'watchNamespace={Team_A}'], /watchNamespace\/0/],
      [['--set', 'service.type=External'], /service\/type/],
      [['--set', 'logLevel=loud'], /logLevel/],
      [['--set', 'extraArgs={serve}'], /extraArgs\/0/],
      [['--set', 'containerPorts.http=70000'], /containerPorts\/http/],
      [['--set', 'service.nodePorts.http=80'], /service\/nodePorts\/http/],
      [['--set', 'ingressClass.controller=portico'], /ingressClass\/controller/],
      [['--set', 'defaultSslCertificate=just-a-name'], /defaultSslCertificate/],
    ];
    for (const [args, message] of cases) {
      const result = await helm(['template', 'portico', CHART, ...args], { allowFailure: true });
      assert.notEqual(result.code, 0, `${args.join(' ')} must be rejected`);
      assert.match(result.stderr, message, args.join(' '));
    }
    const serviceMonitorAlone = await helm(
      ['template', 'portico', CHART, '--set', 'metrics.serviceMonitor.enabled=true'],
      {
        allowFailure: true,
      },
    );
    assert.match(serviceMonitorAlone.stderr, /metrics\.serviceMonitor\.enabled needs metrics\.service\.enabled/);
  });

  it('renders objects the API server accepts for every values file, under the restricted Pod Security Standard', async () => {
    // The release namespace enforces "restricted"; workloads that would violate it get a warning.
    // Not "portico": the walkthrough below creates that one with --create-namespace.
    await kubectl(
      ['apply', '-f', '-'],
      `apiVersion: v1
kind: Namespace
metadata:
  name: ${DRY_RUN_NAMESPACE}
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/warn: restricted
---
${namespaceYaml('team-a')}---
${namespaceYaml('team-b')}`,
    );
    await kubectl(['apply', '-f', join(REPO, 'e2e', 'chart', 'servicemonitor-crd.yaml')]);
    await eventually(async () => {
      const result = await controlPlane.kubectl(['get', 'servicemonitors', '-A'], { allowFailure: true });
      assert.equal(result.code, 0, result.stderr);
    });
    for (const [name, values] of Object.entries(VALUES_FILES)) {
      const objects = await render(values, DRY_RUN_NAMESPACE);
      const yaml = objects.map((object) => JSON.stringify(object)).join('\n---\n');
      const result = await controlPlane.kubectl(['apply', '--dry-run=server', '-f', '-'], {
        input: yaml,
        allowFailure: true,
      });
      assert.equal(result.code, 0, `${name}: ${result.stderr}`);
      assert.doesNotMatch(result.stderr, /Warning/i, `${name}: the API server warned`);
      assert.equal(result.stdout.trim().split('\n').length, objects.length, `${name}: ${result.stdout}`);

      // Enforcement applies to Pods: create (dry run) the Deployment's pod in that namespace.
      const template = find<Deployment>(objects, 'Deployment').spec.template;
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { ...template.metadata, name: 'portico-pod-check' } };
      const podResult = await controlPlane.kubectl(['create', '--dry-run=server', '-n', DRY_RUN_NAMESPACE, '-f', '-'], {
        input: JSON.stringify({ ...pod, spec: template.spec }),
        allowFailure: true,
      });
      assert.equal(podResult.code, 0, `${name}: the pod is admitted under "restricted": ${podResult.stderr}`);
    }
  });

  it('the Deployment: hardened, probed, draining within its grace period, started as the image expects', async () => {
    const objects = await render([]);
    const deployment = find<Deployment>(objects, 'Deployment', 'portico');
    const pod = deployment.spec.template.spec;
    const container = controllerContainer(deployment);

    assert.deepEqual(pod.securityContext.seccompProfile, { type: 'RuntimeDefault' });
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.ok(pod.securityContext.runAsUser > 0);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);

    assert.deepEqual(container.livenessProbe.httpGet, { path: '/healthz', port: 'admin' });
    assert.deepEqual(container.readinessProbe.httpGet, { path: '/readyz', port: 'admin' });
    assert.deepEqual(
      container.ports.map((port) => [port.name, port.containerPort]),
      [
        ['http', 8080],
        ['https', 8443],
        ['admin', 10254],
      ],
    );
    assert.ok(container.args.includes('--http-port=8080'));
    assert.ok(container.args.includes('--https-port=8443'));
    assert.ok(container.args.includes('--admin-port=10254'));

    // Drain: Portico's own grace period (no preStop sleep needed: it keeps serving with /readyz
    // failing), then the shutdown timeout, then 5 s to exit; the chart's defaults are Portico's.
    assert.equal(container.lifecycle, undefined);
    assert.ok(container.args.includes(`--shutdown-grace-period=${DEFAULT_SHUTDOWN_GRACE_PERIOD_MS / 1000}s`));
    assert.ok(container.args.includes(`--shutdown-timeout=${DEFAULT_SHUTDOWN_TIMEOUT_MS / 1000}s`));
    assert.ok(container.args.includes('--workers=2'));
    assert.equal(
      pod.terminationGracePeriodSeconds,
      (DEFAULT_SHUTDOWN_GRACE_PERIOD_MS + DEFAULT_SHUTDOWN_TIMEOUT_MS) / 1000 + 5,
    );
    const shortened = find<Deployment>(
      await render(['--set', 'shutdown.gracePeriodSeconds=3', '--set', 'shutdown.timeoutSeconds=7']),
      'Deployment',
    );
    assert.ok(controllerContainer(shortened).args.includes('--shutdown-grace-period=3s'));
    assert.ok(controllerContainer(shortened).args.includes('--shutdown-timeout=7s'));
    assert.equal(shortened.spec.template.spec.terminationGracePeriodSeconds, 3 + 7 + 5);

    assert.deepEqual(
      container.env.map((env) => [env.name, env.valueFrom?.fieldRef?.fieldPath]),
      [
        ['POD_NAME', 'metadata.name'],
        ['POD_NAMESPACE', 'metadata.namespace'],
      ],
    );

    // The image's ENTRYPOINT runs; the args replace its CMD and start with the same subcommand.
    const { entrypoint, cmd } = imageCommand(readDockerfile());
    assert.deepEqual(entrypoint, ['node', '--max-semi-space-size=16', 'dist/cli.js']);
    assert.equal(container.command, undefined);
    assert.equal(container.args[0], cmd[0]);

    // Every flag the chart can pass is one `portico serve` knows.
    const help = (await runCommand(process.execPath, [CLI, 'serve', '--help'])).stdout;
    for (const values of Object.values(VALUES_FILES)) {
      for (const arg of controllerContainer(find<Deployment>(await render(values), 'Deployment')).args.slice(1)) {
        const flag = arg.split('=')[0] ?? '';
        assert.ok(help.includes(`${flag} `), `portico serve --help lists ${flag}`);
      }
    }
  });

  it('the Service, IngressClass and RBAC: ports 80/443 to 8080/8443, rules exactly the files', async () => {
    const objects = await render([]);
    const service = find(objects, 'Service', 'portico') as KubeObject & {
      spec: { type: string; ports: ServicePort[] };
    };
    assert.equal(service.spec.type, 'LoadBalancer');
    assert.deepEqual(
      service.spec.ports.map((port) => [port.name, port.port, port.targetPort]),
      [
        ['http', 80, 'http'],
        ['https', 443, 'https'],
      ],
    );
    const deployment = find<Deployment>(objects, 'Deployment');
    assert.ok(controllerContainer(deployment).args.includes('--publish-service=portico/portico'));

    const ingressClass = find(objects, 'IngressClass', 'portico') as KubeObject & { spec: { controller: string } };
    assert.equal(ingressClass.spec.controller, 'portico.dev/ingress-controller');
    assert.equal(ingressClass.metadata.annotations, undefined, 'not the default class unless asked');
    const asDefault = find(await render(['--set', 'ingressClass.default=true']), 'IngressClass');
    assert.equal(asDefault.metadata.annotations?.['ingressclass.kubernetes.io/is-default-class'], 'true');

    const rulesOf = (file: string): unknown => parse(readFileSync(join(CHART, 'files', file), 'utf8'));
    assert.deepEqual(find(objects, 'ClusterRole', 'portico').rules, rulesOf('clusterrole-rules.yaml'));
    assert.deepEqual(find(objects, 'Role', 'portico').rules, rulesOf('role-rules.yaml'));
    const binding = find(objects, 'ClusterRoleBinding', 'portico') as KubeObject & {
      subjects: { name: string; namespace: string }[];
    };
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'portico', namespace: 'portico' }]);
    assert.equal(find(objects, 'PodDisruptionBudget').kind, 'PodDisruptionBudget');

    // watchNamespace narrows everything namespaced to those namespaces.
    const scoped = await render(['--set', 'watchNamespace={team-a,team-b}']);
    assert.equal(
      scoped.some((object) => object.kind === 'ClusterRoleBinding' && object.metadata.name === 'portico'),
      false,
      'no cluster-wide binding of the full rules',
    );
    const roleBindings = scoped.filter(
      (object) => object.kind === 'RoleBinding' && object.metadata.name === 'portico-watch',
    );
    assert.deepEqual(roleBindings.map((object) => object.metadata.namespace).sort(), ['team-a', 'team-b']);
    assert.deepEqual(find(scoped, 'ClusterRole', 'portico-cluster-scoped').rules, [
      { apiGroups: ['networking.k8s.io'], resources: ['ingressclasses'], verbs: ['list', 'watch'] },
    ]);
    // The release namespace is not watched, but the --publish-service Service lives there.
    assert.deepEqual(find(scoped, 'Role', 'portico-publish-service').rules, [
      { apiGroups: [''], resources: ['services'], resourceNames: ['portico'], verbs: ['list', 'watch'] },
    ]);
    const publishRoles = (values: readonly string[]) =>
      render(values).then((rendered) =>
        rendered.filter((object) => object.metadata.name === 'portico-publish-service').map((object) => object.kind),
      );
    assert.deepEqual(await publishRoles([]), [], 'every namespace watched: nothing more needed');
    assert.deepEqual(await publishRoles(['--set', 'watchNamespace={team-a,portico}']), []);
    assert.deepEqual(await publishRoles(['--set', 'watchNamespace={team-a}', '--set', 'updateStatus=false']), []);
  });

  it("with watchNamespace, the publish-service Role lets Portico's list and watch of its Service through, and only that", async () => {
    const namespace = 'publish-rbac';
    const objects = (await render(['--set', 'watchNamespace={team-a}'], namespace)).filter(
      (object) =>
        object.metadata.name === 'portico-publish-service' ||
        (object.kind === 'ServiceAccount' && object.metadata.name === 'portico'),
    );
    assert.deepEqual(objects.map((object) => object.kind).sort(), ['Role', 'RoleBinding', 'ServiceAccount']);
    await kubectl(['apply', '-f', '-'], namespaceYaml(namespace));
    await kubectl(['apply', '-f', '-'], objects.map((object) => JSON.stringify(object)).join('\n'));
    await kubectl(
      ['apply', '-f', '-'],
      `apiVersion: v1\nkind: Service\nmetadata: { name: portico, namespace: ${namespace} }\nspec: { ports: [{ port: 80 }] }\n`,
    );
    try {
      const kubeconfigPath = await controlPlane.tokenFor(namespace, 'portico');
      const asPortico = (args: readonly string[]) =>
        controlPlane.kubectl(['-n', namespace, ...args], { kubeconfigPath, allowFailure: true });
      // The collection request src/kube/resource-watcher.ts makes: a list (then a watch) by name.
      await eventually(async () => {
        const listed = await asPortico(['get', 'services', '--field-selector', 'metadata.name=portico', '-o', 'name']);
        assert.equal(listed.code, 0, listed.stderr);
        assert.equal(listed.stdout.trim(), 'service/portico');
      });
      const watched = await asPortico([
        ...['get', 'services', '--field-selector', 'metadata.name=portico', '--watch-only'],
        '--request-timeout=2s',
      ]);
      assert.doesNotMatch(watched.stderr, /forbidden/i, 'the watch by name is allowed');
      const everything = await asPortico(['get', 'services']);
      assert.match(everything.stderr, /forbidden/i, 'no other Service of the namespace');
      const secrets = await asPortico(['get', 'secrets']);
      assert.match(secrets.stderr, /forbidden/i);
    } finally {
      // Labelled with the release: the uninstall step below checks that nothing so labelled is left.
      await kubectl(['delete', '-n', namespace, 'role,rolebinding,serviceaccount,service', '--all']);
    }
  });

  describe('the minikube walkthrough of README.md, on the e2e API server', () => {
    const walkthrough = readmeWalkthrough();
    let netns: Netns;
    const backends: Backend[] = [];
    let portico: ManagedProcess | undefined;
    let podName: string;
    let httpPort: number;
    let httpsPort: number;
    let clusterBefore: string[];

    /** Every object of every listable kind, as kind/namespace/name; Events are records, not state. */
    async function inventory(scope: { namespace?: string; clusterScoped?: boolean }): Promise<string[]> {
      const kinds = (
        await kubectl([
          'api-resources',
          '--verbs=list',
          `--namespaced=${scope.clusterScoped === true ? 'false' : 'true'}`,
          '-o',
          'name',
        ])
      ).stdout
        .split('\n')
        .filter((kind) => kind !== '' && !kind.startsWith('events'));
      const where = scope.namespace === undefined ? [] : ['-n', scope.namespace];
      const list = JSON.parse((await kubectl(['get', kinds.join(','), ...where, '-o', 'json'])).stdout) as {
        items: KubeObject[];
      };
      return list.items.map((item) => `${item.kind}/${item.metadata.namespace ?? ''}/${item.metadata.name}`).sort();
    }

    async function leaseHolder(): Promise<string | undefined> {
      const lease = JSON.parse(
        (await kubectl(['get', 'lease', 'portico-leader', '-n', 'portico', '-o', 'json'])).stdout,
      ) as {
        spec?: { holderIdentity?: string };
      };
      return lease.spec?.holderIdentity;
    }

    async function ingressAddresses(name: string): Promise<string[]> {
      const ingress = JSON.parse((await kubectl(['get', 'ingress', name, '-n', 'default', '-o', 'json'])).stdout) as {
        status?: { loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] } };
      };
      return (ingress.status?.loadBalancer?.ingress ?? []).map((entry) => entry.ip ?? entry.hostname ?? '');
    }

    before(async () => {
      netns = await createNetns({ podCount: 2 });
      const [webAddress, web2Address] = netns.podAddresses as [string, string];
      backends.push(await startBackend(netns, { address: webAddress, name: 'web-55b8c6998d-8k564', version: '1.0.0' }));
      backends.push(
        await startBackend(netns, { address: web2Address, name: 'web2-75cd47646f-t8cjk', version: '2.0.0' }),
      );
      clusterBefore = await inventory({ clusterScoped: true });
    });

    after(async () => {
      if (portico?.running === true) await portico.stop(15_000);
      for (const backend of backends) await backend.stop();
      await netns?.destroy();
    });

    it("step 2: helm install with README's command (no --wait) creates the chart's objects", async () => {
      const [command, subcommand, ...args] = walkthrough.helmInstall;
      assert.deepEqual([command, subcommand], ['helm', 'install']);
      httpPort = await findFreePort();
      httpsPort = await findFreePort();
      const adminPort = await findFreePort();
      const result = await helm([
        'install',
        ...args.map((arg) => arg.replace('$(minikube ip)', MINIKUBE_IP).replace(/^charts\//, `${REPO}charts/`)),
        // Portico runs on this machine, not in a pod: ports that are free here.
        '--set',
        `containerPorts.http=${httpPort},containerPorts.https=${httpsPort},containerPorts.admin=${adminPort}`,
      ]);
      assert.match(result.stdout, /STATUS: deployed/);
      assert.match(
        result.stdout,
        new RegExp(`ADDRESS=${MINIKUBE_IP.replaceAll('.', '\\.')}`),
        'NOTES name the address',
      );
      const manifest = objectsOf((await helm(['get', 'manifest', 'portico', '--namespace', 'portico'])).stdout);
      assert.deepEqual(manifest.map((object) => object.kind).sort(), [
        'ClusterRole',
        'ClusterRoleBinding',
        'Deployment',
        'IngressClass',
        'Lease',
        'Role',
        'RoleBinding',
        'Service',
        'ServiceAccount',
      ]);
    });

    it("Portico, run with the installed Deployment's args, env and ServiceAccount token, becomes ready and leads", async () => {
      const deployment = JSON.parse(
        (await kubectl(['get', 'deployment', 'portico', '-n', 'portico', '-o', 'json'])).stdout,
      ) as Deployment;
      const container = controllerContainer(deployment);
      assert.equal(container.command, undefined, "the image's ENTRYPOINT (node dist/cli.js) runs the args");
      assert.equal(containerPort(container, 'http'), httpPort);
      assert.equal(containerPort(container, 'https'), httpsPort);
      const adminPort = containerPort(container, 'admin');

      podName = 'portico-6f7d9c8b5-x7k2p';
      // The downward API, as the kubelet would fill it in for this pod.
      const fieldValues: Record<string, string> = { 'metadata.name': podName, 'metadata.namespace': 'portico' };
      const env: Record<string, string> = {};
      for (const variable of container.env) {
        const fieldPath = variable.valueFrom?.fieldRef?.fieldPath;
        const value = fieldPath === undefined ? variable.value : fieldValues[fieldPath];
        assert.ok(value !== undefined, `env ${variable.name} can be filled in`);
        env[variable.name] = value;
      }
      const { KUBERNETES_SERVICE_HOST: _, ...hostEnv } = process.env;
      const kubeconfig = await controlPlane.tokenFor('portico', deployment.spec.template.spec.serviceAccountName);
      portico = ManagedProcess.start({
        name: 'portico-chart',
        command: process.execPath,
        // In the pod: node dist/cli.js <args> with in-cluster config. Here: the source, and the
        // ServiceAccount's token through a kubeconfig.
        args: [CLI, ...container.args, `--kubeconfig=${kubeconfig}`],
        logPath: join(controlPlane.directory, 'portico-chart.log'),
        env: { ...hostEnv, ...env },
      });
      await portico.waitUntilReady(
        async () => {
          const answer = await httpGet(adminPort, 'localhost', '/readyz', 2_000);
          assert.equal(answer.status, 200, `/readyz answered ${answer.status}`);
        },
        { timeoutMs: 60_000, description: '/readyz to answer 200' },
      );
      await eventually(async () => {
        const lease = JSON.parse(
          (await kubectl(['get', 'lease', 'portico-leader', '-n', 'portico', '-o', 'json'])).stdout,
        ) as {
          spec?: { holderIdentity?: string };
        };
        assert.equal(lease.spec?.holderIdentity, podName, 'it took over the Lease the chart created');
      });
    });

    it('steps 3-6: the tutorial Ingress routes / to web and /v2 to web2, and shows the minikube IP as ADDRESS', async () => {
      const [webAddress, web2Address] = netns.podAddresses as [string, string];
      // `kubectl expose deployment web --type=NodePort --port=8080`, and the EndpointSlice the
      // controller-manager would write for its pod.
      const exposed = (name: string) => `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: default, labels: { app: ${name} } }
spec: { type: NodePort, selector: { app: ${name} }, ports: [{ port: 8080, targetPort: 8080, protocol: TCP }] }
`;
      await kubectl(
        ['apply', '-f', '-'],
        [
          exposed('web'),
          endpointSliceYaml('default', 'web-8k564', 'web', [{ address: webAddress }], '""'),
          exposed('web2'),
          endpointSliceYaml('default', 'web2-t8cjk', 'web2', [{ address: web2Address }], '""'),
        ].join('---\n'),
      );
      await kubectl(['apply', '-n', 'default', '-f', '-'], walkthrough.exampleIngress);

      const [webBody, web2Body] = walkthrough.expectedBodies as [string, string];
      assert.ok(webBody && web2Body, 'README shows both answers');
      await eventually(async () => {
        const answer = await httpGet(httpPort, 'hello-world.info', '/');
        assert.equal(answer.status, 200);
        assert.match(answer.body, helloPattern(webBody));
      });
      const v2 = await httpGet(httpPort, 'hello-world.info', '/v2');
      assert.equal(v2.status, 200);
      assert.match(v2.body, helloPattern(web2Body));

      // `curl -k https://hello-world.info/v2`: the Service's 443 goes to the https container port.
      const overTls = await httpsGet(httpsPort, 'hello-world.info', '/v2');
      assert.equal(overTls.status, 200);
      assert.match(overTls.body, helloPattern(web2Body));
      assert.match(String(overTls.headers['strict-transport-security']), /max-age=\d+/);

      // --publish-service=portico/portico: no load balancer yet, so the Service's externalIPs.
      await eventually(async () => assert.deepEqual(await ingressAddresses('example-ingress'), [MINIKUBE_IP]));
      const table = (await kubectl(['get', 'ingress', 'example-ingress', '-n', 'default'])).stdout;
      assert.match(
        table,
        new RegExp(`^example-ingress\\s+portico\\s+hello-world\\.info\\s+${MINIKUBE_IP}\\s+80\\s`, 'm'),
      );
    });

    it('helm upgrade to a LoadBalancer Service: its address replaces the external IP, the Lease is untouched', async () => {
      await helm([
        'upgrade',
        'portico',
        CHART,
        '--namespace',
        'portico',
        '--reuse-values',
        '--set',
        'service.type=LoadBalancer',
      ]);
      // What a cloud provider's controller does once the load balancer exists.
      await kubectl([
        'patch',
        'service',
        'portico',
        '-n',
        'portico',
        '--subresource=status',
        '--type=merge',
        '-p',
        JSON.stringify({ status: { loadBalancer: { ingress: [{ ip: LOAD_BALANCER_IP }] } } }),
      ]);
      await eventually(async () => assert.deepEqual(await ingressAddresses('example-ingress'), [LOAD_BALANCER_IP]));
      // Helm's three-way merge leaves the fields Portico writes in the Lease alone.
      assert.equal(await leaseHolder(), podName);
    });

    it("records a Warning Event on a broken Ingress with the chart's RBAC, and was never denied anything", async () => {
      await kubectl(
        ['apply', '-f', '-'],
        ingressYaml('default', 'broken', 'broken.example', [{ path: '/', service: 'no-such-service' }]),
      );
      await eventually(async () => {
        const events = await ingressEvents(controlPlane, 'default', 'broken');
        assert.ok(
          events.some((event) => event.type === 'Warning'),
          'a Warning Event on Ingress broken',
        );
      });
      assert.equal((await httpGet(httpPort, 'broken.example', '/')).status, 503);
      const log = portico?.logTail(100_000) ?? '';
      assert.doesNotMatch(log, /RBAC denies|forbidden/i, 'no request was denied');
    });

    it('step 7: helm uninstall leaves no object behind, cluster-scoped ones included', async () => {
      const uninstall = await helm(['uninstall', 'portico', '--namespace', 'portico']);
      assert.match(uninstall.stdout, /release "portico" uninstalled/);
      // Portico is still running, as the pods would be during their grace period: helm deletes
      // the Lease after the Role, so it cannot create it again.
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      const exit = await portico?.stop(15_000);
      assert.equal(exit?.code, 0, 'SIGTERM: drained and exited 0');
      // The tutorial's own objects are the user's, not the chart's: remove them (and the
      // ClusterIPs they hold) so the inventory below compares only what the chart made.
      await kubectl([
        'delete',
        '-n',
        'default',
        'ingress/example-ingress',
        'ingress/broken',
        'service/web',
        'service/web2',
      ]);

      assert.deepEqual(await inventory({ namespace: 'portico' }), [], 'the release namespace is empty');
      const clusterAfter = await inventory({ clusterScoped: true });
      assert.deepEqual(
        clusterAfter.filter((entry) => !clusterBefore.includes(entry)),
        ['Namespace//portico'],
        'only the namespace --create-namespace made is new',
      );
      assert.deepEqual(
        clusterBefore.filter((entry) => !clusterAfter.includes(entry)),
        [],
      );
      const labelled = await kubectl([
        'get',
        'all,ingressclasses,leases,roles,rolebindings,clusterroles,clusterrolebindings,serviceaccounts,poddisruptionbudgets',
        '-A',
        '-l',
        'app.kubernetes.io/instance=portico',
        '-o',
        'name',
      ]);
      assert.equal(labelled.stdout.trim(), '', 'nothing labelled with the release is left');
    });
  });
});
