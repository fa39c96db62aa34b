// Runs `node src/cli.ts ...` as a child process and collects its output by line.

import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../standalone/wait-for.ts';

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
const EXIT_WAIT_MS = 15_000;

export interface SpawnedPortico {
  readonly child: ChildProcess;
  readonly stdout: string[];
  readonly stderr: string[];
  /** waits (bounded) for a stdout line matching `pattern` and returns its match */
  line(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** JSON log lines from stdout */
  logs(): Record<string, unknown>[];
  /** resolves with the exit code (or signal name), bounded; kills with SIGKILL past the bound */
  exited(): Promise<number | string>;
  signal(signal: NodeJS.Signals): void;
}

function splitLines(into: string[]): (chunk: Buffer) => void {
  let partial = '';
  return (chunk) => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    into.push(...parts);
  };
}

export function spawnPortico(args: readonly string[]): SpawnedPortico {
  // Never let a test's Portico believe it runs inside a cluster.
  const { KUBERNETES_SERVICE_HOST: _, ...env } = process.env;
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const stdout: string[] = [];
  const stderr: string[] = [];
  child.stdout?.on('data', splitLines(stdout));
  child.stderr?.on('data', splitLines(stderr));
  const exit = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  return {
    child,
    stdout,
    stderr,
    line: (pattern, timeoutMs = 20_000) =>
      waitFor(
        `stdout line ${pattern} (stderr: ${stderr.join(' | ')})`,
        () => {
          for (const text of stdout) {
            const found = pattern.exec(text);
            if (found) return found;
          }
          return child.exitCode === null
            ? undefined
            : Promise.reject(new Error(`exited ${child.exitCode}: ${stderr.join('\n')}`));
        },
        { timeoutMs, intervalMs: 20 },
      ),
    logs: () =>
      stdout.flatMap((text) => {
        if (!text.startsWith('{')) return [];
        try {
          return [JSON.parse(text) as Record<string, unknown>];
        } catch {
          return [];
        }
      }),
    exited: async () => {
      const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_WAIT_MS);
      try {
        return await exit;
      } finally {
        clearTimeout(timer);
      }
    },
    signal: (signal) => {
      child.kill(signal);
    },
  };
}
