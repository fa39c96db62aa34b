// Entry point of `npm run test:e2e`: provide the real binaries, then run every
// e2e test file one at a time (they share the machine's ports, CPU and network
// namespaces, and a 2-core CI box cannot run two API servers quickly).
//
//   node e2e/run.ts                        all of e2e/**/*.test.ts
//   node e2e/run.ts e2e/foo.test.ts ...    just these files
//
// Environment:
//   PORTICO_E2E_TIMEOUT_MS  overall limit for the test run (default 40 min);
//                           the build of the binaries is not counted.
//   PORTICO_E2E_KEEP=1      keep control-plane temp dirs (logs) after tests.
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const BUILD_SCRIPT = join(REPO_ROOT, 'e2e', 'provision', 'build-binaries.sh');
const DEFAULT_PATTERN = 'e2e/**/*.test.ts';
const DEFAULT_TIMEOUT_MS = 40 * 60_000;
// A single hung test fails on its own rather than eating the whole budget.
const PER_TEST_TIMEOUT_MS = 10 * 60_000;
// Time the test process gets to run its cleanup after SIGTERM.
const KILL_GRACE_MS = 15_000;
const EXIT_TIMED_OUT = 124;

function timeoutFromEnv(): number {
  const raw = process.env.PORTICO_E2E_TIMEOUT_MS;
  if (raw === undefined || raw === '') return DEFAULT_TIMEOUT_MS;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`PORTICO_E2E_TIMEOUT_MS must be a positive number, got ${raw}`);
  return value;
}

function provideBinaries(): string {
  const started = Date.now();
  const build = spawnSync('bash', [BUILD_SCRIPT], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  if (build.error !== undefined) throw build.error;
  if (build.status !== 0) {
    process.stderr.write(`e2e: ${BUILD_SCRIPT} failed (exit ${build.status ?? build.signal})\n`);
    process.exit(build.status ?? 1);
  }
  const binDir = build.stdout.trim().split('\n').at(-1) ?? '';
  if (binDir === '') {
    process.stderr.write(`e2e: ${BUILD_SCRIPT} printed no binary directory\n`);
    process.exit(1);
  }
  process.stderr.write(`e2e: binaries in ${binDir} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  return binDir;
}

function runTests(binDir: string, files: readonly string[], timeoutMs: number): Promise<number> {
  const args = [
    '--test',
    '--test-concurrency=1',
    '--test-reporter=spec',
    `--test-timeout=${PER_TEST_TIMEOUT_MS}`,
    // Node expands the glob itself, so it works the same from any shell.
    ...(files.length > 0 ? files : [DEFAULT_PATTERN]),
  ];
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    stdio: 'inherit',
    env: { ...process.env, PORTICO_E2E_BIN: binDir },
    // Its own process group, so a timeout can stop test files and everything
    // they started in one signal.
    detached: true,
  });

  const signalGroup = (signal: NodeJS.Signals): void => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // The group is already gone.
    }
  };
  let killTimer: NodeJS.Timeout | undefined;
  const terminate = (reason: string): void => {
    process.stderr.write(`\ne2e: ${reason}; stopping the test run\n`);
    signalGroup('SIGTERM');
    killTimer ??= setTimeout(() => signalGroup('SIGKILL'), KILL_GRACE_MS);
  };
  let timedOut = false;
  const overall = setTimeout(() => {
    timedOut = true;
    terminate(`no result after ${Math.round(timeoutMs / 1000)} s`);
  }, timeoutMs);
  // Being detached, the child does not get the terminal's Ctrl-C; pass it on.
  const onSignal = (signal: NodeJS.Signals): void => terminate(`received ${signal}`);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  return new Promise((resolve) => {
    child.once('error', (error) => {
      process.stderr.write(`e2e: could not start node --test: ${error.message}\n`);
      resolve(1);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(overall);
      clearTimeout(killTimer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (timedOut) resolve(EXIT_TIMED_OUT);
      else resolve(code ?? (signal === null ? 1 : 128 + 15));
    });
  });
}

const timeoutMs = timeoutFromEnv();
const binDir = provideBinaries();
const started = Date.now();
const code = await runTests(binDir, process.argv.slice(2), timeoutMs);
process.stderr.write(`e2e: tests finished with exit code ${code} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
process.exit(code);
