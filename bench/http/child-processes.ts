// Every process the benchmark starts goes through here, so that one place can stop them all:
// on success, on an error, on Ctrl-C. Each child runs in its own process group (nginx forks a
// worker; `taskset` execs in place), and stopping means SIGTERM to that group, then SIGKILL
// to whatever is still alive after a grace period.

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

export interface StartedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** resolves with the exit code (or the signal name) once the process is gone */
  readonly exited: Promise<number | string>;
  /** file collecting stderr (and stdout unless discarded), for the error when the process dies early; '' for `run` */
  readonly logPath: string;
}

export interface StartOptions {
  readonly name: string;
  /** CPU list for `taskset -c`, or undefined to leave the process unpinned */
  readonly cpus: string | undefined;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  /** stderr, and stdout unless `discardStdout`, are appended here */
  readonly logPath: string;
  /** stdout to /dev/null (Portico's access log) */
  readonly discardStdout?: boolean;
}

const STOP_GRACE_MS = 5_000;
/** USER_HZ, the unit of /proc/<pid>/stat and /proc/stat; 100 on every Linux architecture Node ships for. */
const CLOCK_TICKS_PER_SECOND = 100;

export class ProcessGroup {
  readonly #running = new Set<StartedProcess>();

  start(options: StartOptions): StartedProcess {
    const [command, args] =
      options.cpus === undefined
        ? [options.command, options.args]
        : ['taskset', ['-c', options.cpus, options.command, ...options.args]];
    const log = openSync(options.logPath, 'a');
    const child = spawn(command, args, {
      cwd: options.cwd,
      detached: true,
      stdio: ['ignore', options.discardStdout === true ? 'ignore' : log, log],
    });
    closeSync(log);
    const exited = new Promise<number | string>((resolve) => {
      child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
      child.once('error', (error) => resolve(error.message));
    });
    if (child.pid === undefined) throw new Error(`could not start ${options.name} (${command})`);
    const started: StartedProcess = {
      name: options.name,
      pid: child.pid,
      child,
      exited,
      logPath: options.logPath,
    };
    this.#running.add(started);
    void exited.then(() => this.#running.delete(started));
    return started;
  }

  /** SIGTERM to the process group, SIGKILL after the grace period; resolves once it has exited. */
  async stop(target: StartedProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.#running.has(target)) return;
    signalGroup(target.pid, signal);
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        signalGroup(target.pid, 'SIGKILL');
        resolve();
      }, STOP_GRACE_MS);
    });
    await Promise.race([target.exited, killed]);
    clearTimeout(timer);
    await target.exited;
    // Whatever the leader left behind in its group (an nginx worker) goes too.
    signalGroup(target.pid, 'SIGKILL');
  }

  /** Runs a command (wrk) to completion, collecting stdout; rejects on a non-zero exit. */
  run(name: string, command: string, args: readonly string[], cpus: string | undefined): Promise<string> {
    const [file, argv] = cpus === undefined ? [command, args] : ['taskset', ['-c', cpus, command, ...args]];
    const child = spawn(file, argv, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | string>((resolve) => {
      child.once('close', (code, signal) => resolve(code ?? signal ?? 'unknown'));
      child.once('error', (error) => resolve(error.message));
    });
    if (child.pid === undefined) return Promise.reject(new Error(`could not start ${name} (${command})`));
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const started: StartedProcess = { name, pid: child.pid, child, exited, logPath: '' };
    this.#running.add(started);
    return exited.then((status) => {
      this.#running.delete(started);
      if (status === 0) return stdout;
      throw new Error(`${name} exited with ${status}: ${stderr.trim() || stdout.trim()}`);
    });
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#running].map((running) => this.stop(running)));
  }

  /** Synchronous last resort for `process.on('exit')`: nothing can be awaited there. */
  killAllNow(): void {
    for (const running of this.#running) signalGroup(running.pid, 'SIGKILL');
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/** Peak resident set size in KiB (`VmHWM` in /proc/<pid>/status), or undefined if unreadable. */
export function peakRssKib(pid: number): Promise<number | undefined> {
  return statusKib(pid, 'VmHWM');
}

/** Resident set size now in KiB (`VmRSS` in /proc/<pid>/status), or undefined if unreadable. */
export function rssKib(pid: number): Promise<number | undefined> {
  return statusKib(pid, 'VmRSS');
}

async function statusKib(pid: number, field: 'VmHWM' | 'VmRSS'): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'm').exec(status);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** CPU time (user + system) in seconds consumed so far by `pid`, from /proc/<pid>/stat. */
export async function cpuSeconds(pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // The command name (field 2) may contain spaces; the fields we want follow its closing paren.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return (utime + stime) / CLOCK_TICKS_PER_SECOND;
}

/** Direct children of `pid` (the nginx worker under its master). */
export async function childPids(pid: number): Promise<number[]> {
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return children
    .split(' ')
    .filter((field) => field.trim() !== '')
    .map(Number);
}

/** Busy time (everything but idle and iowait) of one CPU so far, in seconds, from /proc/stat. */
export async function cpuBusySeconds(cpu: number): Promise<number | undefined> {
  const stat = await readFile('/proc/stat', 'utf8').catch(() => '');
  const line = stat.split('\n').find((candidate) => candidate.startsWith(`cpu${cpu} `));
  if (line === undefined) return undefined;
  // user nice system idle iowait irq softirq steal (guest time is already inside user)
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const busy = [user, nice, system, irq, softirq, steal].reduce<number>((sum, ticks) => sum + (ticks ?? 0), 0);
  return Number.isFinite(busy) ? busy / CLOCK_TICKS_PER_SECOND : undefined;
}
