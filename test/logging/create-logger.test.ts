// The process logger batches lines on stdout: they must still come out while the process
// idles, when it exits, and when the shutdown path flushes them.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../standalone/wait-for.ts';

const CREATE_LOGGER = fileURLToPath(new URL('../../src/logging/create-logger.ts', import.meta.url));

/** Runs `body` in a child with `processLogger` made by createLogger at info; collects stdout. */
function runWithLogger(body: string): {
  readonly stdout: () => string;
  readonly exited: Promise<number | null>;
  readonly kill: () => void;
} {
  const script = `import { createLogger } from ${JSON.stringify(CREATE_LOGGER)};
const processLogger = createLogger({ level: 'info' });
const logger = processLogger.logger;
${body}`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  return { stdout: () => stdout, exited, kill: () => child.kill('SIGKILL') };
}

function messages(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (JSON.parse(line) as { msg: string }).msg);
}

describe('createLogger', () => {
  it("writes a quiet process's few lines out while it keeps running", async () => {
    const run = runWithLogger(`logger.info('one'); logger.info('two'); setTimeout(() => {}, 60_000);`);
    try {
      await waitFor('both lines on stdout', () => messages(run.stdout()).length === 2, { timeoutMs: 20_000 });
      assert.deepEqual(messages(run.stdout()), ['one', 'two']);
    } finally {
      // The child idles on a long timer: end it.
      run.kill();
      await run.exited;
    }
  });

  it('writes every line out on process.exit and after flush()', async () => {
    const run = runWithLogger(
      `for (let i = 0; i < 1000; i++) logger.info({ i }, 'line ' + i);
processLogger.flush();
logger.info('last');
process.exit(0);`,
    );
    assert.equal(await run.exited, 0);
    const lines = messages(run.stdout());
    assert.equal(lines.length, 1001);
    assert.equal(lines.at(-1), 'last');
  });
});
