// `npm start` smoke test: the demo as a process on free ports (never the defaults, so a
// developer's running demo does not collide), answered like the Kubernetes tutorial.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { request } from 'undici';
import { spawnPortico } from './spawn-portico.ts';

const run = promisify(execFile);

async function get(url: string, host: string): Promise<string> {
  const response = await request(url, { headers: { host } });
  assert.equal(response.statusCode, 200);
  return response.body.text();
}

async function hasCurl(): Promise<boolean> {
  try {
    await run('curl', ['--version']);
    return true;
  } catch {
    return false;
  }
}

describe('portico demo', () => {
  it('serves the tutorial: / from web, /v2 from web2; the printed curl lines work; Ctrl-C exits 0', async () => {
    const demo = spawnPortico(['demo', '--http-port', '0', '--admin-port', '0', '--backend-port', '0']);
    try {
      const curlV2 = await demo.line(/^ {2}(curl -H 'Host: hello-world\.info' localhost:(\d+)\/v2)$/);
      const manifests = (await demo.line(/^ {2}manifests: (\S+)/))[1] ?? '';
      const admin = await demo.line(/^ {2}curl localhost:(\d+)\/readyz$/);
      const proxy = `http://127.0.0.1:${curlV2[2]}`;

      assert.match(
        await get(`${proxy}/v2`, 'hello-world.info'),
        /^Hello, world!\nVersion: 2\.0\.0\nHostname: web2-\d\n$/,
      );
      assert.match(await get(`${proxy}/`, 'hello-world.info'), /^Hello, world!\nVersion: 1\.0\.0\nHostname: web-\d\n$/);
      const hostnames = new Set<string>();
      for (let i = 0; i < 4; i++)
        hostnames.add(/Hostname: (\S+)/.exec(await get(`${proxy}/`, 'hello-world.info'))?.[1] ?? '');
      assert.deepEqual([...hostnames].sort(), ['web-1', 'web-2'], 'both replicas answer');
      assert.equal((await fetch(`http://127.0.0.1:${admin[1]}/readyz`)).status, 200);

      if (await hasCurl()) {
        const { stdout } = await run('sh', ['-c', curlV2[1] ?? 'false']);
        assert.match(stdout, /Version: 2\.0\.0/);
      }

      demo.signal('SIGINT');
      assert.equal(await demo.exited(), 0);
      assert.equal(existsSync(manifests), false, 'the demo removes its manifest directory');
    } finally {
      demo.child.kill('SIGKILL');
    }
  });

  it('rejects a bad flag with exit 2', async () => {
    const demo = spawnPortico(['demo', '--backend-port', '70000', '--http-port', '1', '--admin-port', '1']);
    assert.equal(await demo.exited(), 2);
    assert.deepEqual(
      demo.stderr.filter((line) => line !== ''),
      [
        'portico: --backend-port "70000" is not a port: use 1-65535 (or 0 for any free port)',
        'portico: --http-port and --admin-port are both 1; each listener needs its own port',
      ],
    );
  });
});
