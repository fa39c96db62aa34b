// `portico serve --manifests ...` as a child of a benchmark's ProcessGroup (stopped with the
// rest on success, error or Ctrl-C), on free loopback ports, with its admin endpoints at hand.
// Shared by `bench:churn` and `bench:scale`; `bench/http` starts its own contestant.

import { join } from 'node:path';
import { imageNodeFlags } from '../test/packaging/read-dockerfile.ts';
import { type ProcessGroup, type StartedProcess } from './http/child-processes.ts';
import { freePort } from './http/contestants.ts';

export interface StandalonePortico {
  readonly process: StartedProcess;
  /** `http://127.0.0.1:<port>` of the HTTP listener */
  readonly origin: string;
  readonly adminOrigin: string;
  /** status of GET /readyz, 0 when nothing answers yet */
  readyz(): Promise<number>;
  /** the /metrics text */
  metrics(): Promise<string>;
}

export interface StandalonePorticoOptions {
  readonly repoRoot: string;
  readonly tempDir: string;
  readonly name: string;
  readonly manifests: readonly string[];
  readonly logLevel?: 'warn' | 'info';
  /** node flags besides the image's (the Dockerfile ENTRYPOINT's), such as `--cpu-prof` */
  readonly nodeFlags?: readonly string[];
  /** taskset CPU list, or undefined to leave it unpinned */
  readonly cpus?: string | undefined;
}

const HOST = '127.0.0.1';

/** Starts the process and returns at once: the caller times and waits for readiness. */
export async function startStandalonePortico(
  processes: ProcessGroup,
  options: StandalonePorticoOptions,
): Promise<StandalonePortico> {
  const [httpPort, httpsPort, adminPort] = [await freePort(HOST), await freePort(HOST), await freePort(HOST)];
  const started = processes.start({
    name: options.name,
    cpus: options.cpus,
    command: process.execPath,
    args: [
      // As the image runs it.
      ...imageNodeFlags(),
      ...(options.nodeFlags ?? []),
      join(options.repoRoot, 'src/cli.ts'),
      'serve',
      ...options.manifests.flatMap((path) => ['--manifests', path]),
      ...['--bind-address', HOST, '--http-port', String(httpPort), '--https-port', String(httpsPort)],
      ...['--admin-port', String(adminPort), '--log-level', options.logLevel ?? 'warn'],
      // One process, as these figures were taken; and no shutdown grace period to wait out.
      ...['--workers', '1', '--shutdown-grace-period', '0'],
    ],
    cwd: options.repoRoot,
    logPath: join(options.tempDir, `${options.name}.log`),
  });
  const adminOrigin = `http://${HOST}:${adminPort}`;
  return {
    process: started,
    origin: `http://${HOST}:${httpPort}`,
    adminOrigin,
    readyz: async () => (await fetch(`${adminOrigin}/readyz`).catch(() => undefined))?.status ?? 0,
    metrics: async () => (await fetch(`${adminOrigin}/metrics`)).text(),
  };
}

/** Polls /readyz every `intervalMs` until 200; the milliseconds it took. Fails if the process exits. */
export async function waitReady(portico: StandalonePortico, timeoutMs: number, intervalMs = 10): Promise<number> {
  const startedAt = performance.now();
  let exited: number | string | undefined;
  void portico.process.exited.then((status) => {
    exited = status;
  });
  while (performance.now() - startedAt < timeoutMs) {
    if (exited !== undefined)
      throw new Error(`${portico.process.name} exited (${exited}); see ${portico.process.logPath}`);
    if ((await portico.readyz()) === 200) return performance.now() - startedAt;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`${portico.process.name} not ready within ${timeoutMs} ms; see ${portico.process.logPath}`);
}
