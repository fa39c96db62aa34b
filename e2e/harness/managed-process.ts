// A long-running child process (etcd, kube-apiserver, a backend) whose output
// goes to a log file, so a failure can quote the log's tail instead of the test
// output drowning in startup chatter.
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { trackProcess, untrackProcess } from './reaper.ts';

export interface ManagedProcessOptions {
  /** Short name used in error messages, e.g. "kube-apiserver". */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Appended to, so a restarted process keeps its earlier output. */
  readonly logPath: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all (e.g. ENOENT). */
  readonly error?: Error;
}

export interface WaitUntilReadyOptions {
  readonly timeoutMs: number;
  /** What "ready" means, for the error message, e.g. "GET /readyz to return 200". */
  readonly description: string;
  readonly intervalMs?: number;
}

const DEFAULT_STOP_GRACE_MS = 10_000;
const DEFAULT_TAIL_LINES = 40;
const DEFAULT_READY_INTERVAL_MS = 250;

export class ManagedProcess {
  readonly name: string;
  readonly logPath: string;
  readonly child: ChildProcess;
  readonly exited: Promise<ProcessExit>;
  #exit: ProcessExit | undefined;

  private constructor(options: ManagedProcessOptions) {
    this.name = options.name;
    this.logPath = options.logPath;
    appendFileSync(
      options.logPath,
      `\n===== ${new Date().toISOString()} starting ${options.command} ${options.args.join(' ')}\n`,
    );
    const logFd = openSync(options.logPath, 'a');
    try {
      this.child = spawn(options.command, options.args, {
        stdio: ['ignore', logFd, logFd],
        env: options.env ?? process.env,
        ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      });
    } finally {
      // The child holds its own copy of the descriptor.
      closeSync(logFd);
    }
    const pid = this.child.pid;
    if (pid !== undefined) trackProcess(pid);
    this.exited = new Promise<ProcessExit>((resolve) => {
      this.child.once('error', (error) => {
        // 'error' without a pid means spawn failed; 'exit' will not follow.
        if (this.child.pid === undefined) {
          this.#exit = { code: null, signal: null, error };
          resolve(this.#exit);
        }
      });
      this.child.once('exit', (code, signal) => {
        if (pid !== undefined) untrackProcess(pid);
        this.#exit = { code, signal };
        resolve(this.#exit);
      });
    });
  }

  static start(options: ManagedProcessOptions): ManagedProcess {
    return new ManagedProcess(options);
  }

  /** Undefined while the process is running. */
  get exit(): ProcessExit | undefined {
    return this.#exit;
  }

  get running(): boolean {
    return this.#exit === undefined;
  }

  /** SIGTERM, then SIGKILL once the grace period is over. */
  async stop(graceMs: number = DEFAULT_STOP_GRACE_MS): Promise<ProcessExit> {
    if (this.#exit !== undefined) return this.#exit;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        resolve();
      }, graceMs);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    return this.exited;
  }

  /**
   * Retries `probe` until it resolves. Fails fast if the process exits, and on
   * either failure quotes the end of the log, which is where the reason is.
   */
  async waitUntilReady(probe: () => Promise<unknown>, options: WaitUntilReadyOptions): Promise<void> {
    const deadline = Date.now() + options.timeoutMs;
    let lastError: unknown;
    for (;;) {
      if (!this.running) {
        throw new Error(
          `${this.describeExit()} before ${options.description}; log ${this.logPath} ends with:\n${this.logTail()}`,
        );
      }
      try {
        await probe();
        return;
      } catch (error) {
        lastError = error;
      }
      if (Date.now() >= deadline) {
        const last = lastError instanceof Error ? lastError.message : String(lastError);
        throw new Error(
          `${this.name} not ready after ${options.timeoutMs} ms (waiting for ${options.description}; last: ${last}); log ${this.logPath} ends with:\n${this.logTail()}`,
          { cause: lastError },
        );
      }
      await Promise.race([delay(options.intervalMs ?? DEFAULT_READY_INTERVAL_MS), this.exited]);
    }
  }

  logTail(lines: number = DEFAULT_TAIL_LINES): string {
    try {
      const text = readFileSync(this.logPath, 'utf8').trimEnd();
      return text.split('\n').slice(-lines).join('\n');
    } catch (error) {
      return `(could not read ${this.logPath}: ${String(error)})`;
    }
  }

  describeExit(): string {
    const exit = this.#exit;
    if (exit === undefined) return `${this.name} is running`;
    if (exit.error !== undefined) return `${this.name} could not start: ${exit.error.message}`;
    return exit.signal === null
      ? `${this.name} exited with code ${exit.code}`
      : `${this.name} was killed by ${exit.signal}`;
  }
}
