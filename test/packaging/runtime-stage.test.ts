// The image's runtime, rebuilt outside Docker (no engine runs here) from the same commands the
// Dockerfile runs: `npm ci --omit=dev` into an empty directory, `npm run build` into its dist/,
// then `node dist/cli.js serve ...` from there, as ENTRYPOINT + CMD do. A runtime import of a
// devDependency, a file the build does not emit, or a broken SIGTERM drain fails here.
//
// One liberty: install scripts are skipped and re2's native addon is copied from this checkout's
// node_modules (built for this same Node), because its install script downloads a prebuilt
// binary from GitHub or compiles RE2 for minutes. The image's deps stage runs the script.

import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { imageCommand, readDockerfile } from './read-dockerfile.ts';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const RE2_ADDON = join('node_modules', 're2', 'build', 'Release', 're2.node');
const INSTALL_TIMEOUT_MS = 180_000;

interface ImageProcess {
  readonly output: string[];
  readonly exited: Promise<number | null>;
  pid1(): number;
  logLine(message: string): Promise<Record<string, unknown>>;
}
const TUTORIAL = join(REPO, 'test', 'fixtures', 'routing', 'minikube-tutorial.yaml');

/** What the container gets: no cluster, production mode, nothing from a developer's shell. */
function imageEnv(): NodeJS.ProcessEnv {
  const { KUBERNETES_SERVICE_HOST: _host, NODE_OPTIONS: _options, ...env } = process.env;
  return { ...env, NODE_ENV: 'production' };
}

function getStatus(port: number, host: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: '127.0.0.1', port, path, headers: { host }, timeout: 5_000 }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    outgoing.on('timeout', () => outgoing.destroy(new Error(`GET ${host}${path} timed out`)));
    outgoing.on('error', reject);
    outgoing.end();
  });
}

/** Resolves with the first JSON log line whose msg is `message`. */
function logLine(child: ChildProcess, message: string, output: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let partial = '';
    const timer = setTimeout(() => reject(new Error(`no "${message}" log line: ${output.join('')}`)), 20_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry.msg === message) {
          clearTimeout(timer);
          resolve(entry);
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code} before "${message}": ${output.join('')}`));
    });
  });
}

/** A kubeconfig for an API server that is not there: cluster mode starts and keeps retrying. */
function unreachableKubeconfig(directory: string): string {
  const path = join(directory, 'unreachable.kubeconfig');
  const cluster = { server: 'https://127.0.0.1:1', 'insecure-skip-tls-verify': true };
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'absent', cluster }],
      users: [{ name: 'absent', user: { token: 'none' } }],
      contexts: [{ name: 'absent', context: { cluster: 'absent', user: 'absent' } }],
      'current-context': 'absent',
    }),
  );
  return path;
}

describe('the image runtime, rebuilt from the Dockerfile commands', () => {
  const { entrypoint, cmd } = imageCommand(readDockerfile());
  let app: string;
  const started: ChildProcess[] = [];

  /** Runs the image's command line (ENTRYPOINT + args) in the image's working directory. */
  function runImage(args: readonly string[]) {
    const [program, ...entryArgs] = entrypoint;
    assert.equal(program, 'node');
    return run(process.execPath, [...entryArgs, ...args], { cwd: app, env: imageEnv(), timeout: 30_000 });
  }

  before(async () => {
    app = mkdtempSync(join(tmpdir(), 'portico-image-'));
    for (const file of ['package.json', 'package-lock.json']) copyFileSync(join(REPO, file), join(app, file));
    // deps stage: RUN npm ci --omit=dev (the npm cache of this checkout's own `npm ci` serves it)
    await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], {
      cwd: app,
      timeout: INSTALL_TIMEOUT_MS,
    });
    mkdirSync(join(app, 'node_modules', 're2', 'build', 'Release'), { recursive: true });
    copyFileSync(join(REPO, RE2_ADDON), join(app, RE2_ADDON));
    // build stage: RUN npm run build, emitting into the image's dist/
    await run('npm', ['run', 'build', '--', '--outDir', join(app, 'dist')], { cwd: REPO, timeout: 120_000 });
  });

  after(() => {
    for (const child of started) child.kill('SIGKILL');
    if (app !== undefined) rmSync(app, { recursive: true, force: true });
  });

  it('`serve --help` runs with production dependencies only and lists the cluster flags', async () => {
    const { stdout } = await runImage([...cmd, '--help']);
    assert.match(stdout, /^Usage: portico serve/);
    for (const flag of ['--kubeconfig', '--watch-namespace', '--publish-service', '--election-id', '--admin-port']) {
      assert.ok(stdout.includes(flag), `serve --help lists ${flag}`);
    }
  });

  it('the default CMD outside a cluster says what is missing and exits 2', async () => {
    const failure = await runImage(cmd).then(
      () => assert.fail('serve without a cluster must fail'),
      (error: { code?: number; stderr?: string }) => error,
    );
    assert.equal(failure.code, 2);
    assert.match(failure.stderr ?? '', /no source: give --manifests/);
  });

  /**
   * The image's command as PID 1 of a new PID namespace, as in a container: the kernel then
   * ignores every signal PID 1 has no handler for, so SIGTERM works only if Portico handles it.
   */
  function startAsPid1(args: readonly string[]): ImageProcess {
    const [, ...entryArgs] = entrypoint;
    const output: string[] = [];
    // A new PID namespace needs root, or a user namespace of one's own.
    const asRoot = process.getuid?.() === 0 ? [] : ['--user', '--map-root-user'];
    const child = spawn(
      'unshare',
      [...asRoot, '--pid', '--fork', '--kill-child', process.execPath, ...entryArgs, ...cmd, ...args],
      { cwd: app, env: imageEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    started.push(child);
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    /** node's pid as seen from here (the runtime signals it from outside its namespace, too) */
    const pid1 = (): number => {
      const children = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim();
      assert.match(children, /^\d+$/, 'unshare has forked node');
      const pid = Number(children);
      assert.match(
        readFileSync(`/proc/${pid}/status`, 'utf8'),
        /^NSpid:\s+\d+\s+1$/m,
        'node is PID 1 in its namespace',
      );
      return pid;
    };
    return { output, exited, pid1, logLine: (message) => logLine(child, message, output) };
  }

  it('as PID 1: serves, answers /readyz, and drains on SIGTERM with exit code 0', async () => {
    const image = startAsPid1(['--manifests', TUTORIAL, '--http-port=0', '--admin-port=0', '--bind-address=127.0.0.1']);
    const admin = image.logLine('admin listening');
    const proxy = image.logLine('proxy listening');
    const adminPort = Number((await admin).port);
    const proxyPort = Number((await proxy).port);

    assert.equal(await getStatus(adminPort, 'localhost', '/readyz'), 200);
    assert.equal(await getStatus(proxyPort, 'unknown.example', '/'), 404);
    const stopped = image.logLine('stopped');
    process.kill(image.pid1(), 'SIGTERM');
    await stopped;
    assert.equal(await image.exited, 0, image.output.join(''));
  });

  it('cluster mode loads from production dependencies and waits for the API server, /readyz 503', async () => {
    const image = startAsPid1([`--kubeconfig=${unreachableKubeconfig(app)}`, '--http-port=0', '--admin-port=0']);
    const adminPort = Number((await image.logLine('admin listening')).port);
    await image.logLine('list failed; retrying');
    assert.equal(await getStatus(adminPort, 'localhost', '/readyz'), 503);
    process.kill(image.pid1(), 'SIGKILL');
    await image.exited;
  });

  it(
    // Before the fix, signal handlers were installed only after the first sync: PID 1 ignored
    // SIGTERM until then and the kubelet killed the pod after its grace period.
    'as PID 1, SIGTERM while waiting for the API server ends the process at once',
    async () => {
      const image = startAsPid1([`--kubeconfig=${unreachableKubeconfig(app)}`, '--http-port=0', '--admin-port=0']);
      await image.logLine('list failed; retrying');
      process.kill(image.pid1(), 'SIGTERM');
      const outcome = await Promise.race([image.exited, delay(5_000, 'still running')]);
      if (outcome === 'still running') process.kill(image.pid1(), 'SIGKILL');
      assert.notEqual(outcome, 'still running', 'exited within 5 s of SIGTERM');
    },
  );
});
