// Last-resort cleanup of what the e2e harness creates outside this process:
// child processes (etcd, kube-apiserver, backends), network namespaces and
// temporary directories. Normal teardown goes through each object's stop() or
// destroy(); this module only covers a test run that ends without them.
//
// Two layers, because no single one covers every way a Node process ends:
// - an 'exit' listener cleans up synchronously when Node exits on its own
//   (process.exit, an uncaught exception, the event loop draining);
// - a watchdog shell holds the read end of a pipe from this process. The kernel
//   closes our end however we die (SIGKILL, OOM kill, a SIGTERM without a
//   handler), so the watchdog sees EOF and cleans up after us. It ignores
//   SIGINT/SIGTERM/SIGHUP so that a signal sent to the whole process group
//   (Ctrl-C, e2e/run.ts timing out) does not take it down before it has done so.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const WATCHDOG_SCRIPT_PATH = fileURLToPath(new URL('./reaper-watchdog.sh', import.meta.url));

const trackedPids = new Set<number>();
const trackedNetns = new Set<string>();
const trackedDirectories = new Set<string>();
let watchdog: ChildProcess | undefined;
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  process.once('exit', cleanUpSynchronously);
  try {
    const child = spawn('bash', [WATCHDOG_SCRIPT_PATH], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    // If bash is missing the watchdog is lost, but the 'exit' listener still works.
    child.on('error', () => {
      watchdog = undefined;
    });
    child.stdin?.on('error', () => {
      watchdog = undefined;
    });
    // Neither the watchdog nor its pipe may keep the test process alive.
    child.unref();
    const stdin: unknown = child.stdin;
    if (stdin !== null && typeof stdin === 'object' && 'unref' in stdin && typeof stdin.unref === 'function') {
      stdin.unref();
    }
    watchdog = child;
  } catch {
    watchdog = undefined;
  }
}

function tell(line: string): void {
  watchdog?.stdin?.write(`${line}\n`);
}

function cleanUpSynchronously(): void {
  for (const pid of trackedPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  for (const name of trackedNetns) {
    try {
      execFileSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
    } catch {
      // Already gone, or ip is missing; nothing more can be done on exit.
    }
  }
  for (const directory of trackedDirectories) {
    rmSync(directory, { recursive: true, force: true });
  }
}

export function trackProcess(pid: number): void {
  install();
  trackedPids.add(pid);
  tell(`+pid ${pid}`);
}

export function untrackProcess(pid: number): void {
  if (!trackedPids.delete(pid)) return;
  tell(`-pid ${pid}`);
}

export function trackNetns(name: string): void {
  install();
  trackedNetns.add(name);
  tell(`+netns ${name}`);
}

export function untrackNetns(name: string): void {
  if (!trackedNetns.delete(name)) return;
  tell(`-netns ${name}`);
}

export function trackDirectory(path: string): void {
  install();
  trackedDirectories.add(path);
  tell(`+dir ${path}`);
}

export function untrackDirectory(path: string): void {
  if (!trackedDirectories.delete(path)) return;
  tell(`-dir ${path}`);
}
