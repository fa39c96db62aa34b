// Runs a short-lived command (kubectl, openssl, ip) to completion and returns
// its output; the failure message carries stderr, which is where these tools
// say what went wrong.
import { spawn } from 'node:child_process';

export interface RunCommandOptions {
  /** Written to the command's stdin, which is then closed. */
  readonly input?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Killed (SIGKILL) after this long. */
  readonly timeoutMs?: number;
  /** Resolve with a non-zero exit code instead of rejecting. */
  readonly allowFailure?: boolean;
}

export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

const DEFAULT_TIMEOUT_MS = 60_000;

export class CommandFailedError extends Error {
  readonly result: CommandResult;
  constructor(command: string, args: readonly string[], result: CommandResult) {
    const status = result.signal === null ? `exit code ${result.code}` : `signal ${result.signal}`;
    super(`${command} ${args.join(' ')} failed (${status}): ${result.stderr.trim() || result.stdout.trim()}`);
    this.name = 'CommandFailedError';
    this.result = result;
  }
}

export function runCommand(
  command: string,
  args: readonly string[],
  options: RunCommandOptions = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${command}: ${error.message}`, { cause: error }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const result: CommandResult = {
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      };
      if (code === 0 || options.allowFailure === true) resolve(result);
      else reject(new CommandFailedError(command, args, result));
    });
    // EPIPE when the command exits without reading its input is not our error.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}
