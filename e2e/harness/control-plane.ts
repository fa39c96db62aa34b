// A real, throwaway Kubernetes control plane for e2e tests: etcd plus
// kube-apiserver on loopback, with no controller-manager, scheduler or kubelet.
// That is enough for an Ingress controller, which only reads Ingresses,
// Services, EndpointSlices and Secrets and writes status and Events; anything a
// controller-manager would do (EndpointSlices, service-account Secrets) the
// tests create themselves.
//
// The flags follow controller-runtime's envtest defaults (RBAC on, the
// ServiceAccount admission plugin off because nothing creates the "default"
// ServiceAccount, 10.0.0.0/24 for Service IPs), with certificates of our own
// so tests can authenticate as an admin and as service accounts.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binaryPath, resolveBinaryDirectory } from './binaries.ts';
import { type ControlPlaneCertificates, generateControlPlaneCertificates } from './certificates.ts';
import { findFreePort } from './free-port.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import { ManagedProcess } from './managed-process.ts';
import { trackDirectory, untrackDirectory } from './reaper.ts';
import { type CommandResult, runCommand } from './run-command.ts';
import { requestWithTls, type TlsMaterial, type TlsRequestOptions, type TlsResponse } from './tls-request.ts';

export interface ControlPlaneOptions {
  /** Directory with kube-apiserver, etcd and kubectl; defaults to resolveBinaryDirectory(). */
  readonly binDir?: string;
  /** Per component (etcd, then kube-apiserver); generous because CI machines may have 2 cores. */
  readonly startTimeoutMs?: number;
  /**
   * kube-apiserver's watch cache. Off by default: every watch is then served
   * by etcd itself, so compactEtcd() deterministically turns a watch resumed
   * from an older resourceVersion into 410 Gone. With the cache on, the
   * apiserver answers such watches from its own window of recent events and
   * compaction alone does not produce 410.
   */
  readonly watchCache?: boolean;
  /** Appended after the harness's own flags (later flags win). */
  readonly apiServerArgs?: readonly string[];
  /** Keep the temp directory (logs, etcd data) after stop(); default from PORTICO_E2E_KEEP=1. */
  readonly keepDirectory?: boolean;
}

export interface KubectlOptions {
  /** Written to kubectl's stdin, e.g. manifests for `apply -f -`. */
  readonly input?: string;
  /** Another identity, e.g. from tokenFor(); defaults to the admin kubeconfig. */
  readonly kubeconfigPath?: string;
  /** Resolve with the non-zero exit code instead of rejecting. */
  readonly allowFailure?: boolean;
  readonly timeoutMs?: number;
}

export interface EtcdCompaction {
  /** The revision compacted at: every resourceVersion below it is gone. */
  readonly revision: number;
}

const DEFAULT_START_TIMEOUT_MS = 120_000;
const SERVICE_CLUSTER_IP_RANGE = '10.0.0.0/24';
const TOKEN_DURATION_SECONDS = 3600;

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function parseRevision(body: unknown): number {
  // The gateway renders int64 as a JSON string.
  const header = body !== null && typeof body === 'object' && 'header' in body ? body.header : undefined;
  const revision = header !== null && typeof header === 'object' && 'revision' in header ? header.revision : undefined;
  const value = Number(revision);
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new Error(`etcd returned no usable revision: ${JSON.stringify(body)}`);
  }
  return value;
}

export class ControlPlane {
  /** e.g. https://127.0.0.1:40123; stays the same across stopApiServer()/startApiServer(). */
  readonly serverUrl: string;
  /** Admin kubeconfig (client certificate in group system:masters). */
  readonly kubeconfigPath: string;
  /** Temp directory holding certificates, kubeconfigs, logs and etcd data. */
  readonly directory: string;
  readonly etcdUrl: string;
  /** CA and admin client certificate, PEM, for raw HTTPS requests. */
  readonly tls: TlsMaterial;
  readonly apiServerLogPath: string;
  readonly etcdLogPath: string;
  readonly binDir: string;

  readonly #etcd: ManagedProcess;
  #apiServer: ManagedProcess | undefined;
  readonly #apiServerArgs: readonly string[];
  readonly #startTimeoutMs: number;
  readonly #keepDirectory: boolean;
  #stopped = false;

  private constructor(init: {
    serverUrl: string;
    kubeconfigPath: string;
    directory: string;
    etcdUrl: string;
    tls: TlsMaterial;
    binDir: string;
    etcd: ManagedProcess;
    apiServerArgs: readonly string[];
    startTimeoutMs: number;
    keepDirectory: boolean;
  }) {
    this.serverUrl = init.serverUrl;
    this.kubeconfigPath = init.kubeconfigPath;
    this.directory = init.directory;
    this.etcdUrl = init.etcdUrl;
    this.tls = init.tls;
    this.binDir = init.binDir;
    this.#etcd = init.etcd;
    this.#apiServerArgs = init.apiServerArgs;
    this.#startTimeoutMs = init.startTimeoutMs;
    this.#keepDirectory = init.keepDirectory;
    this.apiServerLogPath = join(init.directory, 'kube-apiserver.log');
    this.etcdLogPath = init.etcd.logPath;
  }

  /** @internal Use startControlPlane(). */
  static async start(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const binDir = options.binDir ?? resolveBinaryDirectory();
    const startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    const keepDirectory = options.keepDirectory ?? process.env.PORTICO_E2E_KEEP === '1';
    const directory = await mkdtemp(join(tmpdir(), 'portico-e2e-cp-'));
    if (!keepDirectory) trackDirectory(directory);

    let etcd: ManagedProcess | undefined;
    let controlPlane: ControlPlane | undefined;
    try {
      const pki = join(directory, 'pki');
      await mkdir(pki);
      const certs = await generateControlPlaneCertificates(pki);
      const ports = await allocatePorts();
      const etcdUrl = `http://127.0.0.1:${ports.etcdClient}`;
      etcd = startEtcd(binDir, directory, etcdUrl, `http://127.0.0.1:${ports.etcdPeer}`);
      await etcd.waitUntilReady(() => probeEtcdHealth(etcdUrl), {
        timeoutMs: startTimeoutMs,
        description: 'GET /health to report healthy',
      });

      const serverUrl = `https://127.0.0.1:${ports.apiServer}`;
      const [caPem, adminCertPem, adminKeyPem] = await Promise.all([
        readFile(certs.caCertPath, 'utf8'),
        readFile(certs.adminCertPath, 'utf8'),
        readFile(certs.adminKeyPath, 'utf8'),
      ]);
      const tls: TlsMaterial = { ca: caPem, cert: adminCertPem, key: adminKeyPem };
      const kubeconfigPath = await writeKubeconfig(join(directory, 'admin.kubeconfig'), {
        serverUrl,
        caPem: tls.ca,
        user: { kind: 'client-certificate', certPem: adminCertPem, keyPem: adminKeyPem },
        name: 'portico-e2e-admin',
      });
      controlPlane = new ControlPlane({
        serverUrl,
        kubeconfigPath,
        directory,
        etcdUrl,
        tls,
        binDir,
        etcd,
        apiServerArgs: apiServerArgs({
          directory,
          certs,
          etcdUrl,
          port: ports.apiServer,
          watchCache: options.watchCache ?? false,
          extra: options.apiServerArgs ?? [],
        }),
        startTimeoutMs,
        keepDirectory,
      });
      await controlPlane.startApiServer();
      return controlPlane;
    } catch (error) {
      if (controlPlane !== undefined) await controlPlane.stop();
      else {
        await etcd?.stop();
        if (!keepDirectory) {
          await rm(directory, { recursive: true, force: true });
          untrackDirectory(directory);
        }
      }
      throw error;
    }
  }

  get apiServerRunning(): boolean {
    return this.#apiServer?.running ?? false;
  }

  /** Starts kube-apiserver on the same port as before and waits for /readyz. */
  async startApiServer(): Promise<void> {
    if (this.#stopped) throw new Error('control plane is stopped');
    if (this.#apiServer?.running === true) throw new Error('kube-apiserver is already running');
    const apiServer = ManagedProcess.start({
      name: 'kube-apiserver',
      command: binaryPath('kube-apiserver', this.binDir),
      args: this.#apiServerArgs,
      logPath: this.apiServerLogPath,
    });
    this.#apiServer = apiServer;
    await apiServer.waitUntilReady(
      async () => {
        const response = await this.request('/readyz', { timeoutMs: 5_000 });
        if (response.status !== 200) throw new Error(`/readyz answered ${response.status}: ${response.body}`);
      },
      { timeoutMs: this.#startTimeoutMs, description: 'GET /readyz to return 200' },
    );
  }

  /**
   * Stops kube-apiserver (SIGTERM, then SIGKILL) and leaves etcd running, so
   * clients see the API go away and come back with all data intact.
   */
  async stopApiServer(): Promise<void> {
    await this.#apiServer?.stop();
  }

  /** etcd's current revision (what the next resourceVersion will exceed). */
  async etcdRevision(): Promise<number> {
    // Any key will do: every response header carries the store revision.
    const body = await this.#etcdCall('/v3/kv/range', { key: base64('/portico-e2e/revision-probe'), count_only: true });
    return parseRevision(body);
  }

  /**
   * Compacts etcd at its current revision. A caught-up watch is not affected
   * (etcd only cancels watchers still behind the compacted revision), but any
   * watch or list that starts from an older resourceVersion now fails with
   * 410 Gone: exactly what an informer meets when it resumes after a
   * disconnect. With the watch cache off (the default), this reaches clients
   * unchanged.
   */
  async compactEtcd(): Promise<EtcdCompaction> {
    const revision = await this.etcdRevision();
    const response = await fetch(`${this.etcdUrl}/v3/kv/compaction`, {
      method: 'POST',
      body: JSON.stringify({ revision: String(revision), physical: true }),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    // kube-apiserver compacts on its own every 5 minutes; if it just did so at
    // this same revision, etcd says so, and the result is what we wanted.
    if (!response.ok && !text.includes('required revision has been compacted')) {
      throw new Error(`etcd compaction at ${revision} failed (${response.status}): ${text}`);
    }
    return { revision };
  }

  /** Runs kubectl against this control plane (admin unless another kubeconfig is given). */
  kubectl(args: readonly string[], options: KubectlOptions = {}): Promise<CommandResult> {
    return runCommand(
      binaryPath('kubectl', this.binDir),
      [
        '--kubeconfig',
        options.kubeconfigPath ?? this.kubeconfigPath,
        // Discovery is cached per server address; keep it out of $HOME.
        '--cache-dir',
        join(this.directory, 'kubectl-cache'),
        ...args,
      ],
      {
        ...(options.input === undefined ? {} : { input: options.input }),
        ...(options.allowFailure === undefined ? {} : { allowFailure: options.allowFailure }),
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      },
    );
  }

  /**
   * A bound token for an existing ServiceAccount (TokenRequest API; needs no
   * controller-manager, unlike the legacy token Secrets).
   */
  async createToken(namespace: string, serviceAccount: string): Promise<string> {
    const result = await this.kubectl([
      'create',
      'token',
      serviceAccount,
      '--namespace',
      namespace,
      `--duration=${TOKEN_DURATION_SECONDS}s`,
    ]);
    return result.stdout.trim();
  }

  /** Writes a kubeconfig that authenticates as the ServiceAccount and returns its path. */
  async tokenFor(namespace: string, serviceAccount: string): Promise<string> {
    const token = await this.createToken(namespace, serviceAccount);
    const suffix = randomBytes(3).toString('hex');
    return writeKubeconfig(join(this.directory, `sa-${namespace}-${serviceAccount}-${suffix}.kubeconfig`), {
      serverUrl: this.serverUrl,
      caPem: this.tls.ca,
      user: { kind: 'token', token },
      name: `${namespace}-${serviceAccount}`,
      namespace,
    });
  }

  /** A raw HTTPS request to the API server as admin; `path` may include a query. */
  request(path: string, options: TlsRequestOptions = {}): Promise<TlsResponse> {
    return requestWithTls(new URL(path, this.serverUrl), this.tls, options);
  }

  /** Stops kube-apiserver and etcd and removes the temp directory. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#apiServer?.stop();
    await this.#etcd.stop();
    if (this.#keepDirectory) {
      process.stderr.write(`portico e2e: kept control plane directory ${this.directory}\n`);
      return;
    }
    await rm(this.directory, { recursive: true, force: true });
    untrackDirectory(this.directory);
  }

  async #etcdCall(path: string, body: unknown): Promise<unknown> {
    const response = await fetch(`${this.etcdUrl}${path}`, {
      method: 'POST',
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`etcd ${path} failed (${response.status}): ${text}`);
    return JSON.parse(text) as unknown;
  }
}

export function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  return ControlPlane.start(options);
}

async function allocatePorts(): Promise<{ etcdClient: number; etcdPeer: number; apiServer: number }> {
  const taken = new Set<number>();
  // The kernel may hand out a just-released port again; each must be distinct.
  const next = async (): Promise<number> => {
    for (;;) {
      const port = await findFreePort();
      if (!taken.has(port)) {
        taken.add(port);
        return port;
      }
    }
  };
  return { etcdClient: await next(), etcdPeer: await next(), apiServer: await next() };
}

function startEtcd(binDir: string, directory: string, clientUrl: string, peerUrl: string): ManagedProcess {
  return ManagedProcess.start({
    name: 'etcd',
    command: binaryPath('etcd', binDir),
    args: [
      '--name=portico-e2e',
      `--data-dir=${join(directory, 'etcd-data')}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=portico-e2e=${peerUrl}`,
      '--initial-cluster-state=new',
      // Test data is thrown away; fsync only makes every write slow.
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ],
    logPath: join(directory, 'etcd.log'),
  });
}

async function probeEtcdHealth(etcdUrl: string): Promise<void> {
  const response = await fetch(`${etcdUrl}/health`, { signal: AbortSignal.timeout(5_000) });
  const body = await response.text();
  if (!response.ok || !body.includes('"health":"true"')) {
    throw new Error(`/health answered ${response.status}: ${body}`);
  }
}

function apiServerArgs(init: {
  directory: string;
  certs: ControlPlaneCertificates;
  etcdUrl: string;
  port: number;
  watchCache: boolean;
  extra: readonly string[];
}): string[] {
  const { certs } = init;
  return [
    `--etcd-servers=${init.etcdUrl}`,
    '--bind-address=127.0.0.1',
    // Without it the apiserver looks for a default-route interface, which a
    // sandbox may not have.
    '--advertise-address=127.0.0.1',
    // The reconciler would publish the advertise address as the endpoint of
    // the "kubernetes" Service, and endpoint validation rejects loopback
    // addresses, so it would only fill the log with retries.
    '--endpoint-reconciler-type=none',
    `--secure-port=${init.port}`,
    `--tls-cert-file=${certs.servingCertPath}`,
    `--tls-private-key-file=${certs.servingKeyPath}`,
    `--client-ca-file=${certs.caCertPath}`,
    // Unused while the files above are given, but the default is under /var/run.
    `--cert-dir=${join(init.directory, 'apiserver-cert-dir')}`,
    '--authorization-mode=RBAC',
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    '--allow-privileged=true',
    // No controller-manager creates the "default" ServiceAccount, which this
    // plugin would require for every Pod.
    '--disable-admission-plugins=ServiceAccount',
    `--service-account-issuer=https://127.0.0.1:${init.port}`,
    `--service-account-key-file=${certs.serviceAccountPublicKeyPath}`,
    `--service-account-signing-key-file=${certs.serviceAccountKeyPath}`,
    `--watch-cache=${init.watchCache}`,
    '--v=1',
    ...init.extra,
  ];
}
