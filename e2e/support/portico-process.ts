// Portico as the e2e tests run it: the real CLI (`src/cli.ts serve`) as a child process in
// cluster mode against the harness's kube-apiserver, with its log in a file whose tail is
// quoted when something fails.

import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ControlPlane } from '../harness/control-plane.ts';
import { findFreePort } from '../harness/free-port.ts';
import { ManagedProcess } from '../harness/managed-process.ts';

const CLI_PATH = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
const READY_TIMEOUT_MS = 60_000;

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** A plain HTTP request with the Host we choose (fetch cannot override Host). */
export function httpGet(
  port: number,
  host: string,
  path: string,
  timeoutMs = 5_000,
  headers: Readonly<Record<string, string>> = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      { host: '127.0.0.1', port, path, method: 'GET', headers: { ...headers, host }, timeout: timeoutMs },
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
    outgoing.on('timeout', () => outgoing.destroy(new Error(`GET ${host}${path} timed out`)));
    outgoing.on('error', reject);
    outgoing.end();
  });
}

/** The `Hostname:` line of the e2e backends' hello text. */
export function hostnameOf(body: string): string | undefined {
  return /Hostname: (\S+)/.exec(body)?.[1];
}

export interface PorticoProcessOptions {
  /** extra `serve` flags, e.g. ['--watch-namespace', 'team-a'] */
  readonly args?: readonly string[];
  /** another identity, e.g. a ServiceAccount token kubeconfig; default: admin */
  readonly kubeconfigPath?: string;
  /** POD_NAME: the Lease identity */
  readonly name?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** wait for /readyz (default true) */
  readonly waitReady?: boolean;
}

export class PorticoProcess {
  readonly httpPort: number;
  readonly adminPort: number;
  readonly process: ManagedProcess;
  readonly name: string;

  private constructor(httpPort: number, adminPort: number, managed: ManagedProcess, name: string) {
    this.httpPort = httpPort;
    this.adminPort = adminPort;
    this.process = managed;
    this.name = name;
  }

  static async start(controlPlane: ControlPlane, options: PorticoProcessOptions = {}): Promise<PorticoProcess> {
    const httpPort = await findFreePort();
    const httpsPort = await findFreePort();
    const adminPort = await findFreePort();
    const name = options.name ?? `portico-${httpPort}`;
    const managed = ManagedProcess.start({
      name,
      command: process.execPath,
      args: [
        CLI_PATH,
        'serve',
        '--kubeconfig',
        options.kubeconfigPath ?? controlPlane.kubeconfigPath,
        '--http-port',
        String(httpPort),
        // Every listener on a port of its own: several Portico processes run side by side.
        '--https-port',
        String(httpsPort),
        '--admin-port',
        String(adminPort),
        '--bind-address',
        '127.0.0.1',
        // One process that stops at once on SIGTERM, unless a test asks otherwise (a later flag wins).
        '--shutdown-grace-period',
        '0',
        '--workers',
        '1',
        ...(options.args ?? []),
      ],
      logPath: join(controlPlane.directory, `${name}.log`),
      env: { ...process.env, POD_NAME: name, POD_NAMESPACE: 'default', ...options.env },
    });
    const portico = new PorticoProcess(httpPort, adminPort, managed, name);
    if (options.waitReady ?? true) {
      try {
        await managed.waitUntilReady(
          async () => {
            const answer = await httpGet(adminPort, 'localhost', '/readyz', 2_000);
            if (answer.status !== 200) throw new Error(`/readyz answered ${answer.status}`);
          },
          { timeoutMs: READY_TIMEOUT_MS, description: `${name} /readyz to answer 200` },
        );
      } catch (error) {
        await managed.stop(2_000);
        throw error;
      }
    }
    return portico;
  }

  get(host: string, path: string, headers: Readonly<Record<string, string>> = {}): Promise<HttpAnswer> {
    return httpGet(this.httpPort, host, path, 5_000, headers);
  }

  /** A counter or gauge from /metrics, summed over its labels. */
  async metric(name: string): Promise<number> {
    const { body } = await httpGet(this.adminPort, 'localhost', '/metrics', 2_000);
    const samples = body
      .split('\n')
      .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
      .map((line) => Number(line.slice(line.lastIndexOf(' ') + 1)));
    if (samples.length === 0) throw new Error(`/metrics has no sample ${name}`);
    return samples.reduce((sum, value) => sum + value, 0);
  }

  /**
   * Which backends answered `count` requests for host+path, de-duplicated and sorted; a non-200
   * answer is recorded as its status code.
   */
  async answeredBy(host: string, path: string, count: number): Promise<string[]> {
    const seen = new Set<string>();
    for (let index = 0; index < count; index++) {
      const answer = await this.get(host, path);
      seen.add(answer.status === 200 ? (hostnameOf(answer.body) ?? 'unknown') : String(answer.status));
    }
    return [...seen].sort();
  }

  async readyz(): Promise<number> {
    return (await httpGet(this.adminPort, 'localhost', '/readyz', 2_000)).status;
  }

  /** the process's log so far (JSON lines) */
  log(): string {
    return this.process.logTail(100_000);
  }

  stop(): Promise<unknown> {
    return this.process.stop(15_000);
  }

  kill(): void {
    this.process.child.kill('SIGKILL');
  }
}
