// `portico serve` as a child process on loopback, fed from a manifest directory the test
// edits, with its admin port read for /readyz and /metrics.

import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type SpawnedPortico, spawnPortico } from '../cli/spawn-portico.ts';
import { ingressYaml, manifests, serviceYaml, sliceYaml } from '../support/cluster-manifests.ts';

export interface ManifestDir {
  /** the directory given to --manifests */
  readonly path: string;
  /** the path of one file in it */
  file(name: string): string;
  /** rewrites `name` in place (truncate, write), as `echo > file` or most editors' default */
  write(name: string, text: string): Promise<void>;
  /**
   * writes the new text to a file outside the directory, then renames it over `name`: the
   * atomic replace that many editors and deployment tools use to save a file
   */
  replace(name: string, text: string): Promise<void>;
  remove(): Promise<void>;
}

export async function makeManifestDir(prefix: string): Promise<ManifestDir> {
  const root = await mkdtemp(join(tmpdir(), `portico-${prefix}-`));
  const path = join(root, 'manifests');
  const staging = join(root, 'staging');
  await Promise.all([mkdir(path), mkdir(staging)]);
  let writes = 0;
  return {
    path,
    file: (name) => join(path, name),
    write: (name, text) => writeFile(join(path, name), text),
    async replace(name, text) {
      const temporary = join(staging, `${writes++}-${name}`);
      await writeFile(temporary, text);
      await rename(temporary, join(path, name));
    },
    remove: () => rm(root, { recursive: true, force: true }),
  };
}

/** A manifest directory routing every path of app.test to Service web with one endpoint. */
export async function makeAppManifestDir(
  prefix: string,
  endpoint: { readonly address: string; readonly port: number },
): Promise<ManifestDir> {
  const dir = await makeManifestDir(prefix);
  await dir.write(
    'all.yaml',
    manifests(
      serviceYaml('web'),
      sliceYaml('web', [{ ip: endpoint.address, port: endpoint.port }]),
      ingressYaml('app', 'app.test', [{ path: '/', service: 'web' }]),
    ),
  );
  return dir;
}

export interface ServeProcess {
  readonly run: SpawnedPortico;
  readonly proxyPort: number;
  readonly adminPort: number;
  readonly proxyOrigin: string;
  readonly adminOrigin: string;
  /** the /metrics text */
  metrics(): Promise<string>;
  /** SIGTERM and the exit code (bounded; SIGKILL past the bound) */
  stop(): Promise<number | string>;
}

/**
 * `paths`: each given as its own --manifests argument (a directory, or single files). One
 * process and no shutdown grace period unless `extraArgs` say otherwise (a later flag wins):
 * SIGTERM closes the listeners at once, as these tests expect.
 */
export async function startServe(
  paths: string | readonly string[],
  extraArgs: readonly string[] = [],
  startTimeoutMs?: number,
): Promise<ServeProcess> {
  const run = spawnPortico([
    'serve',
    ...(typeof paths === 'string' ? [paths] : paths).flatMap((path) => ['--manifests', path]),
    '--http-port',
    '0',
    '--admin-port',
    '0',
    '--bind-address',
    '127.0.0.1',
    '--shutdown-grace-period',
    '0',
    '--workers',
    '1',
    ...extraArgs,
  ]);
  try {
    const admin = await run.line(/"port":(\d+),"msg":"admin listening"/, startTimeoutMs);
    const proxy = await run.line(/"port":(\d+),"msg":"proxy listening"/, startTimeoutMs);
    const proxyPort = Number(proxy[1]);
    const adminPort = Number(admin[1]);
    const adminOrigin = `http://127.0.0.1:${adminPort}`;
    return {
      run,
      proxyPort,
      adminPort,
      proxyOrigin: `http://127.0.0.1:${proxyPort}`,
      adminOrigin,
      metrics: async () => (await fetch(`${adminOrigin}/metrics`)).text(),
      stop: async () => {
        if (run.child.exitCode === null && run.child.signalCode === null) run.signal('SIGTERM');
        return run.exited();
      },
    };
  } catch (error) {
    run.child.kill('SIGKILL');
    throw error;
  }
}

/**
 * The value of one sample in Prometheus text, or undefined. `labels` must all match (other
 * labels on the sample are allowed).
 */
export function metricValue(
  text: string,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = new Map<string, string>();
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      found.set(pair[1] as string, pair[2] as string);
    }
    if (Object.entries(labels).every(([key, value]) => found.get(key) === value)) return Number(match[3]);
  }
  return undefined;
}

/** Whether a TCP connection to the port on loopback is refused (the listener has closed). */
export function connectionRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}
