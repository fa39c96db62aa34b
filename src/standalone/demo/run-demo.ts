// `npm start`: the Kubernetes Ingress tutorial on one machine. Starts the demo backends,
// writes the tutorial's manifests into a temporary directory, then runs Portico exactly as
// `portico serve --manifests <that directory>` would, and prints the curl lines to try.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../config/config.ts';
import { createLogger } from '../../logging/create-logger.ts';
import { type RunningPortico, startPortico } from '../../main.ts';
import { generateCertificate } from '../../tls/generate-certificate.ts';
import { type DemoBackends, startDemoBackends } from './demo-backends.ts';
import { DEMO_HOST, DEMO_TLS_HOST, demoManifestFiles } from './demo-manifests.ts';

/** Beside the manifests (not a manifest: the reader skips it), for `curl --cacert`. */
export const DEMO_CERTIFICATE_FILE = 'demo-tls.crt';

export interface RunningDemo {
  readonly portico: RunningPortico;
  readonly backends: DemoBackends;
  readonly manifestDir: string;
  /** closes the backends and removes the manifests (after `portico.stop`) */
  cleanUp(): Promise<void>;
  /** writes out buffered log lines (before printing the banner) */
  flushLogs(): void;
}

/** Makes the directory the demo's manifests will live in (the Config must name it). */
export function makeDemoManifestDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'portico-demo-'));
}

export async function runDemo(config: Config, backendPort: number): Promise<RunningDemo> {
  const [manifestDir] = config.manifests;
  if (manifestDir === undefined) throw new Error('the demo config names no manifest directory');
  let backends: DemoBackends | undefined;
  const cleanUp = async (): Promise<void> => {
    await backends?.close();
    await rm(manifestDir, { recursive: true, force: true });
  };
  try {
    backends = await startDemoBackends(backendPort);
    const certificate = await generateCertificate({ commonName: DEMO_TLS_HOST, dnsNames: [DEMO_TLS_HOST] });
    for (const file of demoManifestFiles(backends.replicas, certificate)) {
      await writeFile(join(manifestDir, file.name), file.text);
    }
    await writeFile(join(manifestDir, DEMO_CERTIFICATE_FILE), certificate.certPem);
    const processLogger = createLogger({ level: config.logLevel });
    const portico = await startPortico(config, { processLogger });
    return { portico, backends, manifestDir, cleanUp, flushLogs: processLogger.flush };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

function hostForCurl(address: AddressInfo): string {
  const wildcard = ['0.0.0.0', '::', '127.0.0.1', '::1'].includes(address.address);
  const host = wildcard ? 'localhost' : address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${host}:${address.port}`;
}

export function demoBanner(demo: RunningDemo): string {
  const proxy = hostForCurl(demo.portico.httpAddress);
  const admin = hostForCurl(demo.portico.adminAddress);
  const httpsPort = demo.portico.httpsAddress.port;
  const loopback = demo.portico.httpsAddress.family === 'IPv6' ? '[::1]' : '127.0.0.1';
  const certificate = join(demo.manifestDir, DEMO_CERTIFICATE_FILE);
  const backends = demo.backends.replicas.map((r) => `${r.hostname} ${r.address}:${r.port}`).join(', ');
  return [
    '',
    'Portico demo is running: the Kubernetes "Set up Ingress on Minikube" tutorial, without a cluster.',
    `  backends:  ${backends}`,
    `  manifests: ${demo.manifestDir}  (edit them: Portico applies changes live)`,
    '',
    'Try:',
    `  curl -H 'Host: ${DEMO_HOST}' ${proxy}/`,
    `  curl -H 'Host: ${DEMO_HOST}' ${proxy}/v2`,
    `  curl --cacert ${certificate} --resolve ${DEMO_TLS_HOST}:${httpsPort}:${loopback} https://${DEMO_TLS_HOST}:${httpsPort}/`,
    `  curl -i -H 'Host: ${DEMO_TLS_HOST}' ${proxy}/     # 308 to https`,
    `  curl ${admin}/readyz`,
    `  curl ${admin}/metrics`,
    '',
    'Ctrl-C stops everything.',
    '',
  ].join('\n');
}
