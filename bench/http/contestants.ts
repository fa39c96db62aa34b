// Starting the backend and the contestants, and knowing when each answers. Every
// contestant is a process (or an nginx master and its one worker) pinned to the proxy core;
// `servingPid` is the process that does the work, whose CPU time and peak RSS are reported.

import { readFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { childPids, type ProcessGroup, type StartedProcess } from './child-processes.ts';
import { type Listen, type TlsFiles, writeBackendConfig, writeProxyConfig } from './nginx-config.ts';
import { BENCH_HOST, writePorticoManifests } from './portico-manifests.ts';
import { imageNodeFlags } from '../../test/packaging/read-dockerfile.ts';

export interface Contestant {
  readonly key: string;
  readonly label: string;
  readonly listen: Listen;
  readonly url: string;
  readonly process: StartedProcess;
  readonly servingPid: number;
}

export interface Placement {
  readonly repoRoot: string;
  readonly tempDir: string;
  readonly processes: ProcessGroup;
  /** taskset CPU list of the proxies */
  readonly proxyCpus: string | undefined;
  /** taskset CPU list of the backend (and of wrk) */
  readonly loadCpus: string | undefined;
}

const READY_TIMEOUT_MS = 20_000;

/** A port free on `host` right now (the kernel's pick; released before the contestant binds it). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error(`no port on ${host}`));
      });
    });
  });
}

async function listenOn(host: string): Promise<Listen> {
  return { host, port: await freePort(host) };
}

function getStatus(url: string): Promise<number> {
  const send = url.startsWith('https:') ? httpsRequest : request;
  return new Promise((resolve) => {
    // The contestants' certificates are self-signed: the probe only asks whether they serve.
    const options = { headers: { host: BENCH_HOST }, agent: false, timeout: 1_000, rejectUnauthorized: false };
    const outgoing = send(url, options, (response) => {
      response.resume();
      response.once('end', () => resolve(response.statusCode ?? 0));
    });
    outgoing.once('timeout', () => outgoing.destroy());
    outgoing.once('error', () => resolve(0));
    outgoing.end();
  });
}

/** Polls `url` until it answers 200; fails early, with the process's log, if it exits. */
async function waitUntilServing(started: StartedProcess, url: string, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void started.exited.then(() => {
    exited = true;
  });
  let status = 0;
  while (Date.now() < deadline) {
    if (exited) break;
    status = await getStatus(url);
    if (status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const why = exited ? `exited (${await started.exited})` : `answered ${status || 'nothing'} for ${timeoutMs} ms`;
  const log = await readFile(started.logPath, 'utf8').catch(() => '');
  throw new Error(`${started.name} did not come up: ${why}\n${log.trim().split('\n').slice(-20).join('\n')}`);
}

/** The nginx worker under `master`; nginx forks it shortly after start. */
async function nginxWorker(master: StartedProcess): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const [worker] = await childPids(master.pid);
    if (worker !== undefined) return worker;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${master.name}: no nginx worker process`);
}

async function startNginx(
  placement: Placement,
  key: string,
  label: string,
  cpus: string | undefined,
  args: string[],
  listen: Listen,
  scheme: 'http' | 'https' = 'http',
): Promise<Contestant> {
  const started = placement.processes.start({
    name: label,
    cpus,
    command: 'nginx',
    args,
    logPath: join(placement.tempDir, `${key}.log`),
  });
  const url = `${scheme}://${listen.host}:${listen.port}/`;
  await waitUntilServing(started, url);
  return { key, label, listen, url, process: started, servingPid: await nginxWorker(started) };
}

/** The backend, nginx answering `200 ok`, on the load core. 127.0.0.2: apart from the proxies. */
export async function startBackend(placement: Placement): Promise<Contestant> {
  const listen = await listenOn('127.0.0.2');
  const args = await writeBackendConfig(placement.tempDir, listen);
  return startNginx(placement, 'direct', '(a) backend direct', placement.loadCpus, args, listen);
}

export async function startNginxProxy(placement: Placement, backend: Listen, tls?: TlsFiles): Promise<Contestant> {
  const listen = await listenOn('127.0.0.1');
  const args = await writeProxyConfig(placement.tempDir, listen, backend, tls);
  if (!tls) return startNginx(placement, 'nginx', '(b) nginx', placement.proxyCpus, args, listen);
  return startNginx(placement, 'nginx-tls', 'nginx, TLS', placement.proxyCpus, args, listen, 'https');
}

/** A self-signed ECDSA P-256 certificate for the bench host (what Portico generates too). */
export function writeBenchCertificate(dir: string): TlsFiles {
  const certificate = join(dir, 'bench-tls.crt');
  const key = join(dir, 'bench-tls.key');
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2'],
      ...['-subj', `/CN=${BENCH_HOST}`, '-keyout', key, '-out', certificate],
    ],
    { stdio: 'ignore' },
  );
  return { certificate, key };
}

/** A Node proxy of bench/http/ that takes `<listen-host> <listen-port> <upstream-origin>`. */
async function startNodePeer(
  placement: Placement,
  backend: Listen,
  peer: { readonly key: string; readonly label: string; readonly script: string },
): Promise<Contestant> {
  const listen = await listenOn('127.0.0.1');
  const started = placement.processes.start({
    name: peer.label,
    cpus: placement.proxyCpus,
    command: process.execPath,
    args: [
      join(placement.repoRoot, 'bench/http', peer.script),
      listen.host,
      String(listen.port),
      `http://${backend.host}:${backend.port}`,
    ],
    cwd: placement.repoRoot,
    logPath: join(placement.tempDir, `${peer.key}.log`),
  });
  const url = `http://${listen.host}:${listen.port}/`;
  await waitUntilServing(started, url);
  return { key: peer.key, label: peer.label, listen, url, process: started, servingPid: started.pid };
}

export function startReplyFrom(placement: Placement, backend: Listen): Promise<Contestant> {
  return startNodePeer(placement, backend, {
    key: 'reply-from',
    label: '(c) reply-from',
    script: 'reply-from-proxy.ts',
  });
}

/** node:http + undici Pool and nothing else: the floor of Portico's stack (stack-floor-proxy.ts). */
export function startStackFloor(placement: Placement, backend: Listen): Promise<Contestant> {
  return startNodePeer(placement, backend, {
    key: 'stack-floor',
    label: '(e) node:http + undici only',
    script: 'stack-floor-proxy.ts',
  });
}

export interface PorticoVariant {
  readonly key: string;
  readonly label: string;
  /** `warn` turns the access log (info) off; `info` is the default, one JSON line per request */
  readonly logLevel: 'warn' | 'info';
  /** extra node flags, such as `--cpu-prof` */
  readonly nodeFlags?: readonly string[];
  /** measure the HTTPS listener (its generated default certificate: wrk sends no SNI to an IP) */
  readonly https?: boolean;
  /** --workers (default 1) */
  readonly workers?: number;
}

export async function startPortico(
  placement: Placement,
  backend: Listen,
  variant: PorticoVariant,
  readyTimeoutMs?: number,
): Promise<Contestant> {
  const manifests = await writePorticoManifests(join(placement.tempDir, `${variant.key}-manifests`), backend);
  const listen = await listenOn('127.0.0.1');
  const adminPort = await freePort('127.0.0.1');
  // It listens either way: a port of its own keeps two Porticos (and any other) apart.
  const httpsPort = await freePort('127.0.0.1');
  const started = placement.processes.start({
    name: variant.label,
    cpus: placement.proxyCpus,
    command: process.execPath,
    args: [
      // As the image runs it (the Dockerfile's node flags), then the variant's own.
      ...imageNodeFlags(),
      ...(variant.nodeFlags ?? []),
      join(placement.repoRoot, 'src/cli.ts'),
      'serve',
      '--manifests',
      manifests,
      '--bind-address',
      listen.host,
      '--http-port',
      String(listen.port),
      '--https-port',
      String(httpsPort),
      '--admin-port',
      String(adminPort),
      '--log-level',
      variant.logLevel,
      // One process unless the variant says otherwise (bench:cores); stop at once.
      '--workers',
      String(variant.workers ?? 1),
      '--shutdown-grace-period',
      '0',
    ],
    cwd: placement.repoRoot,
    // With the access log on, its lines go to /dev/null: the JSON is built and written, but
    // no disk or terminal speed enters the figures. At warn, stdout is only warnings.
    logPath: join(placement.tempDir, `${variant.key}.log`),
    discardStdout: variant.logLevel === 'info',
  });
  const measured = variant.https ? { host: listen.host, port: httpsPort } : listen;
  const url = `${variant.https ? 'https' : 'http'}://${measured.host}:${measured.port}/`;
  await waitUntilServing(started, url, readyTimeoutMs);
  return { key: variant.key, label: variant.label, listen: measured, url, process: started, servingPid: started.pid };
}
