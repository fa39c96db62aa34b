// Config validation, one row per case: the flags as typed, and either the fields expected
// in the frozen Config or the exact one-line problems.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildConfig, type Config, type ConfigInput } from '../../src/config/config.ts';
import { parseSourceRange, type SourceRange } from '../../src/routing/source-range.ts';

const dir = mkdtempSync(join(tmpdir(), 'portico-config-'));
const file = join(dir, 'objects.yaml');
writeFileSync(file, '');
const missing = join(dir, 'missing.yaml');

interface Row {
  readonly name: string;
  readonly input: ConfigInput;
  readonly expect?: Partial<Omit<Config, 'compile'>> & { readonly compile?: Partial<Config['compile']> };
  readonly problems?: readonly string[];
}

const rows: readonly Row[] = [
  {
    name: 'defaults',
    input: { manifests: [dir] },
    expect: {
      manifests: [dir],
      httpPort: 8080,
      adminPort: 10254,
      bindAddress: '0.0.0.0',
      logLevel: 'info',
      compile: {
        ingressClass: 'portico',
        controllerClass: 'portico.dev/ingress-controller',
        watchIngressWithoutClass: false,
      },
      rebuildHoldoffMs: 50,
      rebuildMaxDelayMs: 500,
      shutdownGracePeriodMs: 10_000,
      shutdownTimeoutMs: 30_000,
      workers: availableParallelism(),
    },
  },
  {
    name: 'shutdown durations in ms and minutes',
    input: { manifests: [dir], shutdownGracePeriod: '1500ms', shutdownTimeout: '2m' },
    expect: { shutdownGracePeriodMs: 1_500, shutdownTimeoutMs: 120_000 },
  },
  {
    name: 'shutdown durations: bare seconds and zero',
    input: { manifests: [dir], shutdownGracePeriod: '0', shutdownTimeout: ' 0.5 ' },
    expect: { shutdownGracePeriodMs: 0, shutdownTimeoutMs: 500 },
  },
  {
    name: '--workers',
    input: { manifests: [dir], workers: ' 4 ' },
    expect: { workers: 4 },
  },
  {
    name: 'bad --workers',
    input: { manifests: [dir], workers: '0' },
    problems: ['--workers "0" must be a number of processes, 1-256'],
  },
  {
    name: 'bad shutdown durations',
    input: { manifests: [dir], shutdownGracePeriod: '-1s', shutdownTimeout: '2h' },
    problems: [
      '--shutdown-grace-period "-1s" must be a duration such as 10s, 1500ms or 2m (at most 1h)',
      '--shutdown-timeout "2h" must be a duration such as 10s, 1500ms or 2m (at most 1h)',
    ],
  },
  {
    name: 'every flag set',
    input: {
      manifests: [file, dir],
      httpPort: '80',
      adminPort: '0',
      bindAddress: '::1',
      ingressClass: 'edge',
      controllerClass: 'example.com/edge',
      watchIngressWithoutClass: true,
      logLevel: 'DEBUG',
    },
    expect: {
      manifests: [file, dir],
      httpPort: 80,
      adminPort: 0,
      bindAddress: '::1',
      logLevel: 'debug',
      compile: { ingressClass: 'edge', controllerClass: 'example.com/edge', watchIngressWithoutClass: true },
    },
  },
  { name: 'both ports 0 is fine', input: { manifests: [dir], httpPort: '0', adminPort: '0' }, expect: {} },
  { name: 'limit status code default', input: { manifests: [dir] }, expect: { limitStatusCode: 503 } },
  {
    name: 'limit status code 429',
    input: { manifests: [dir], limitStatusCode: '429' },
    expect: { limitStatusCode: 429 },
  },
  {
    name: 'limit status code not an error status',
    input: { manifests: [dir], limitStatusCode: '200' },
    problems: ['--limit-status-code "200" must be a status from 400 to 599'],
  },
  {
    name: 'no manifests',
    input: {},
    problems: [
      'no source: give --manifests <file|dir> for standalone mode, or run in a cluster (or give --kubeconfig <file>) for cluster mode',
    ],
  },
  {
    name: 'missing manifest path',
    input: { manifests: [dir, missing] },
    problems: [`--manifests "${missing}" does not exist`],
  },
  {
    name: 'port out of range',
    input: { manifests: [dir], httpPort: '65536' },
    problems: ['--http-port "65536" is not a port: use 1-65535 (or 0 for any free port)'],
  },
  {
    name: 'port not a number',
    input: { manifests: [dir], adminPort: 'http' },
    problems: ['--admin-port "http" is not a port: use 1-65535 (or 0 for any free port)'],
  },
  {
    name: 'negative port',
    input: { manifests: [dir], adminPort: '-1' },
    problems: ['--admin-port "-1" is not a port: use 1-65535 (or 0 for any free port)'],
  },
  {
    name: 'same port twice',
    input: { manifests: [dir], httpPort: '9000', adminPort: '9000' },
    problems: ['--http-port and --admin-port are both 9000; each listener needs its own port'],
  },
  {
    name: 'default admin port given as http port',
    input: { manifests: [dir], httpPort: '10254' },
    problems: ['--http-port and --admin-port are both 10254; each listener needs its own port'],
  },
  {
    name: 'bad bind address',
    input: { manifests: [dir], bindAddress: 'example.com' },
    problems: ['--bind-address "example.com" is not an IP address (or "localhost")'],
  },
  {
    name: 'bad log level',
    input: { manifests: [dir], logLevel: 'loud' },
    problems: ['--log-level "loud" is not one of fatal, error, warn, info, debug, trace, silent'],
  },
  {
    name: 'empty class names',
    input: { manifests: [dir], ingressClass: '', controllerClass: 'a b' },
    problems: [
      '--ingress-class "" must be 1-250 characters without spaces',
      '--controller-class "a b" must be 1-250 characters without spaces',
    ],
  },
  {
    name: 'every problem at once, in flag order',
    input: { httpPort: '99999', adminPort: 'x', logLevel: 'loud' },
    problems: [
      'no source: give --manifests <file|dir> for standalone mode, or run in a cluster (or give --kubeconfig <file>) for cluster mode',
      '--http-port "99999" is not a port: use 1-65535 (or 0 for any free port)',
      '--admin-port "x" is not a port: use 1-65535 (or 0 for any free port)',
      '--log-level "loud" is not one of fatal, error, warn, info, debug, trace, silent',
    ],
  },
  {
    name: 'cluster mode in a cluster: defaults',
    input: { env: { KUBERNETES_SERVICE_HOST: '10.0.0.1', POD_NAMESPACE: 'ingress', POD_NAME: 'portico-abc' } },
    expect: {
      manifests: [],
      kube: {
        kubeconfig: undefined,
        watchNamespaces: [],
        updateStatus: true,
        publishService: undefined,
        publishStatusAddresses: [],
        electionId: 'portico-leader',
        electionNamespace: 'ingress',
        identity: 'portico-abc',
      },
    },
  },
  {
    name: 'cluster mode outside a cluster: every flag',
    input: {
      kubeconfig: file,
      watchNamespaces: ['team-a', 'team-b,team-c'],
      updateStatus: 'false',
      publishService: 'ingress/portico',
      publishStatusAddress: '203.0.113.7, lb.example.com',
      electionId: 'edge-leader',
      env: { POD_NAME: 'p' },
    },
    expect: {
      kube: {
        kubeconfig: file,
        watchNamespaces: ['team-a', 'team-b', 'team-c'],
        updateStatus: false,
        publishService: 'ingress/portico',
        publishStatusAddresses: ['203.0.113.7', 'lb.example.com'],
        electionId: 'edge-leader',
        electionNamespace: 'default',
        identity: 'p',
      },
    },
  },
  {
    name: 'cluster flags with --manifests',
    input: { manifests: [dir], kubeconfig: file, publishService: 'a/b' },
    problems: [
      '--kubeconfig is for cluster mode; it cannot be combined with --manifests',
      '--publish-service is for cluster mode; it cannot be combined with --manifests',
    ],
  },
  {
    name: 'bad cluster flags',
    input: {
      kubeconfig: missing,
      watchNamespaces: ['Team_A'],
      publishService: 'portico',
      electionId: 'Bad Lease',
      updateStatus: 'maybe',
    },
    problems: [
      `--kubeconfig "${missing}" does not exist`,
      '--watch-namespace "Team_A" is not a namespace name',
      '--publish-service "portico" must be namespace/name',
      '--election-id "Bad Lease" is not a valid Lease name',
      '--update-status "maybe" must be true or false',
    ],
  },
  {
    name: 'no trusted forwarders by default: the socket is the client',
    input: { manifests: [dir] },
    expect: { clientAddress: { trusted: [], proxyProtocol: false } },
  },
  {
    name: 'trusted forwarders, comma-separated or repeated, and the PROXY protocol',
    input: { manifests: [dir], trustForwardedFrom: ['10.0.0.0/8, 192.0.2.1', 'fd00::/8'], proxyProtocol: true },
    expect: {
      clientAddress: {
        trusted: ['10.0.0.0/8', '192.0.2.1', 'fd00::/8'].map((text) => parseSourceRange(text) as SourceRange),
        proxyProtocol: true,
      },
    },
  },
  {
    name: 'a bad trusted range',
    input: { manifests: [dir], trustForwardedFrom: ['10.0.0.0/33'] },
    problems: ['--trust-forwarded-from "10.0.0.0/33" is not an IP address or CIDR'],
  },
  {
    name: 'the PROXY protocol needs trusted peers',
    input: { manifests: [dir], proxyProtocol: true },
    problems: ['--proxy-protocol needs --trust-forwarded-from: a PROXY header is believed only from those peers'],
  },
];

describe('buildConfig', () => {
  for (const row of rows) {
    it(row.name, () => {
      const result = buildConfig(row.input);
      if (row.problems) {
        assert.equal(result.ok, false);
        if (!result.ok) assert.deepEqual(result.problems, row.problems);
        return;
      }
      assert.ok(result.ok, result.ok ? '' : result.problems.join('\n'));
      const { compile, ...rest } = row.expect ?? {};
      for (const [key, value] of Object.entries(rest)) {
        assert.deepEqual(result.config[key as keyof Config], value, key);
      }
      for (const [key, value] of Object.entries(compile ?? {})) {
        assert.deepEqual(result.config.compile[key as keyof Config['compile']], value, `compile.${key}`);
      }
      assert.ok(Object.isFrozen(result.config));
      assert.ok(Object.isFrozen(result.config.compile));
      assert.ok(Object.isFrozen(result.config.manifests));
    });
  }
});
