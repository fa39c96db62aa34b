// `portico serve` as a process: usage errors, start, readiness, and a clean SIGTERM.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { INGRESS_CLASS_YAML } from '../standalone/manifest-snippets.ts';
import { spawnPortico } from './spawn-portico.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portico-serve-cli-'));
  await writeFile(join(dir, 'class.yaml'), INGRESS_CLASS_YAML);
});
after(() => rm(dir, { recursive: true, force: true }));

describe('portico serve: usage errors exit 2 with one line per problem', () => {
  const cases: { name: string; args: (dir: string) => string[]; stderr: RegExp[] }[] = [
    {
      name: 'bad ports',
      args: (d) => ['--manifests', d, '--http-port', '99999', '--admin-port', 'abc'],
      stderr: [
        /^portico: --http-port "99999" is not a port: use 1-65535 \(or 0 for any free port\)$/,
        /^portico: --admin-port "abc" is not a port: use 1-65535 \(or 0 for any free port\)$/,
      ],
    },
    {
      name: 'same port twice',
      args: (d) => ['--manifests', d, '--http-port', '9090', '--admin-port', '9090'],
      stderr: [/^portico: --http-port and --admin-port are both 9090; each listener needs its own port$/],
    },
    {
      name: 'missing manifests',
      args: (d) => ['--manifests', join(d, 'nope')],
      stderr: [/^portico: --manifests ".*nope" does not exist$/],
    },
    {
      name: 'no manifests and no cluster',
      args: () => [],
      stderr: [/^portico: no source: give --manifests <file\|dir> for standalone mode, or run in a cluster/],
    },
  ];
  for (const testCase of cases) {
    it(testCase.name, async () => {
      const run = spawnPortico(['serve', ...testCase.args(dir)]);
      assert.equal(await run.exited(), 2);
      const lines = run.stderr.filter((line) => line !== '' && !line.startsWith('(add --help'));
      assert.equal(lines.length, testCase.stderr.length, lines.join('\n'));
      for (const [index, pattern] of testCase.stderr.entries()) assert.match(lines[index] ?? '', pattern);
    });
  }
});

it('portico serve: an unknown flag is a usage error too (exit 2)', async () => {
  const run = spawnPortico(['serve', '--manifests', dir, '--nope']);
  assert.equal(await run.exited(), 2);
  assert.equal(run.stderr[0], "error: unknown option '--nope'");
});

function serveOnLoopback(adminPort = '0') {
  return spawnPortico([
    'serve',
    '--manifests',
    dir,
    '--http-port',
    '0',
    '--admin-port',
    adminPort,
    '--bind-address',
    '127.0.0.1',
    '--shutdown-grace-period',
    '0',
    '--workers',
    '1',
  ]);
}

describe('portico serve: running', () => {
  it('logs JSON lines, turns ready, and exits 0 on SIGTERM', async () => {
    const run = serveOnLoopback();
    try {
      const admin = await run.line(/"port":(\d+),"msg":"admin listening"/);
      await run.line(/"msg":"proxy listening"/);
      const base = `http://127.0.0.1:${admin[1]}`;
      assert.equal((await fetch(`${base}/readyz`)).status, 200);
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      run.signal('SIGTERM');
      assert.equal(await run.exited(), 0);
      const messages = run.logs().map((line) => line.msg);
      assert.ok(messages.includes('shutting down') && messages.includes('stopped'), messages.join(', '));
      for (const log of run.logs()) assert.equal(typeof log.level, 'number');
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('a port already in use fails the start with one line and exit 1', async () => {
    const first = serveOnLoopback();
    try {
      const admin = await first.line(/"port":(\d+),"msg":"admin listening"/);
      const second = serveOnLoopback(String(admin[1]));
      assert.equal(await second.exited(), 1);
      assert.ok(
        second.stderr.some(
          (line) => line === `portico: cannot listen for admin on 127.0.0.1:${admin[1]}: the port is in use`,
        ),
        second.stderr.join('\n'),
      );
    } finally {
      first.signal('SIGTERM');
      await first.exited();
    }
  });
});
