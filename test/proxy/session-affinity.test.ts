// Cookie affinity and upstream-hash-by through the real proxy, with
// real backends on 127.0.0.x and endpoint changes on the fast path (no recompile).

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { ingressYaml, manifests, serviceYaml, sliceYaml, slicesFor } from '../support/cluster-manifests.ts';
import { type RunningProxy, send, startProxy, type TestResponse } from '../support/proxy-harness.ts';
import { startNamedBackends, type TestBackend } from '../support/test-backends.ts';
import { TestLiveState } from '../support/test-live-state.ts';

const P = 'nginx.ingress.kubernetes.io/';
const ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
const SERVICE_UID = '6b1d3c2a-0f4e-4d7a-9b8c-2e5f7a1d9c3b';

function setCookieOf(response: TestResponse): string | undefined {
  const lines = response.headers['set-cookie'];
  assert.ok(lines === undefined || lines.length === 1, `one Set-Cookie at most: ${lines}`);
  return lines?.[0];
}

/** `name=value` from a Set-Cookie line, as a client sends it back. */
function cookiePair(line: string | undefined): string {
  assert.ok(line, 'a Set-Cookie was sent');
  return line.split(';')[0] as string;
}

describe('cookie affinity', () => {
  let backends: TestBackend[];
  let state: TestLiveState;
  let running: RunningProxy;

  /** The Service's endpoints become exactly these backends. */
  function setEndpoints(listed: readonly TestBackend[]): void {
    state.updateSlices(slicesFor('web', listed).join('---\n'));
  }

  async function sendAs(path: string, cookie: string | undefined): Promise<TestResponse> {
    const response = await send(running.port, {
      path,
      ...(cookie ? { headers: { cookie: `theme=dark; ${cookie}` } } : {}),
    });
    assert.equal(response.status, 200);
    return response;
  }

  /** `count` requests with `cookie`: the one backend they all reached; none gets a new cookie. */
  async function stickyBackend(path: string, cookie: string, count = 20): Promise<string> {
    const seen = new Set<string>();
    for (let index = 0; index < count; index++) {
      const response = await sendAs(path, cookie);
      assert.equal(setCookieOf(response), undefined, 'a valid cookie is not reissued');
      seen.add(response.body);
    }
    assert.equal(seen.size, 1, `the session moved between ${[...seen]}`);
    return [...seen][0] as string;
  }

  /** The session left `home` for another endpoint, with a new cookie that sticks there. */
  async function assertMovedWithNewCookie(path: string, cookie: string, home: string): Promise<void> {
    const moved = await sendAs(path, cookie);
    assert.notEqual(moved.body, home);
    const renewed = cookiePair(setCookieOf(moved));
    assert.notEqual(renewed, cookie);
    assert.equal(await stickyBackend(path, renewed), moved.body);
  }

  beforeEach(async () => {
    backends = await startNamedBackends('pod', ADDRESSES);
    state = new TestLiveState(
      manifests(
        serviceYaml('web', { uid: SERVICE_UID }),
        ...slicesFor('web', backends.slice(0, 3)),
        ingressYaml('persistent', 'app.test', [{ path: '/shop', service: 'web' }], {
          [`${P}affinity`]: 'cookie',
          [`${P}affinity-mode`]: 'persistent',
          [`${P}session-cookie-name`]: 'route',
          [`${P}session-cookie-max-age`]: '3600',
          [`${P}session-cookie-samesite`]: 'Lax',
        }),
        ingressYaml('balanced', 'app.test', [{ path: '/cart', service: 'web' }], { [`${P}affinity`]: 'cookie' }),
        ingressYaml('moving-balanced', 'app.test', [{ path: '/bag', service: 'web' }], {
          [`${P}affinity`]: 'cookie',
          [`${P}session-cookie-change-on-failure`]: 'true',
        }),
        ingressYaml('moving', 'app.test', [{ path: '/basket', service: 'web' }], {
          [`${P}affinity`]: 'cookie',
          [`${P}affinity-mode`]: 'persistent',
          [`${P}session-cookie-change-on-failure`]: 'true',
        }),
      ),
    );
    assert.deepEqual(state.diagnostics, []);
    running = await startProxy(state);
  });

  afterEach(async () => {
    await running.close();
    for (const backend of backends) await backend.close();
  });

  test('persistent: a new session gets a cookie that hides the address, then sticks', async () => {
    const first = await sendAs('/shop', undefined);
    const line = setCookieOf(first);
    assert.match(line ?? '', /^route=[A-Za-z0-9_-]{22}; Path=\/shop; Max-Age=3600; HttpOnly; SameSite=Lax$/);
    assert.ok(!line?.includes('127.0.0') && !line?.includes(String(backends[0]?.port)));
    assert.equal(await stickyBackend('/shop', cookiePair(line)), first.body);
  });

  test('persistent: sessions spread over the endpoints', async () => {
    const used = new Set<string>();
    for (let session = 0; session < 12; session++) used.add((await sendAs('/shop', undefined)).body);
    assert.equal(used.size, 3, 'new sessions are placed by round-robin');
  });

  test('persistent: unrelated endpoint changes leave the session where it is', async () => {
    const cookie = cookiePair(setCookieOf(await sendAs('/shop', undefined)));
    const home = await stickyBackend('/shop', cookie);
    const others = backends.slice(0, 3).filter((backend) => backend.name !== home);
    // One more pod, and one of the others gone.
    setEndpoints([
      ...backends.filter((backend) => backend.name === home),
      others[0] as TestBackend,
      backends[3] as TestBackend,
    ]);
    assert.equal(await stickyBackend('/shop', cookie), home);
    // Another pod not ready (terminating): still no reason to move.
    state.updateSlices(
      [
        ...slicesFor('web', [backends.find((backend) => backend.name === home) as TestBackend]),
        sliceYaml(
          'web',
          [
            {
              ip: (others[0] as TestBackend).address,
              port: (others[0] as TestBackend).port,
              ready: false,
              terminating: true,
            },
          ],
          'web-t',
        ),
      ].join('---\n'),
    );
    assert.equal(await stickyBackend('/shop', cookie), home);
  });

  test('persistent: the session moves with a new cookie when its endpoint leaves', async () => {
    const cookie = cookiePair(setCookieOf(await sendAs('/shop', undefined)));
    const home = await stickyBackend('/shop', cookie);
    setEndpoints(backends.filter((backend) => backend.name !== home));
    await assertMovedWithNewCookie('/shop', cookie, home);
  });

  test('persistent: an endpoint that stops being ready counts as gone', async () => {
    const cookie = cookiePair(setCookieOf(await sendAs('/shop', undefined)));
    const home = await stickyBackend('/shop', cookie);
    const homeBackend = backends.find((backend) => backend.name === home) as TestBackend;
    const rest = backends.slice(0, 3).filter((backend) => backend !== homeBackend);
    state.updateSlices(
      [
        ...rest.map((backend, index) =>
          sliceYaml('web', [{ ip: backend.address, port: backend.port }], `web-r${index}`),
        ),
        sliceYaml('web', [{ ip: homeBackend.address, port: homeBackend.port, ready: false }], 'web-home'),
      ].join('---\n'),
    );
    await assertMovedWithNewCookie('/shop', cookie, home);
  });

  test('a failing endpoint: the retry goes elsewhere; only change-on-failure moves the session', async () => {
    const cookie = cookiePair(setCookieOf(await sendAs('/shop', undefined)));
    const home = await stickyBackend('/shop', cookie);
    // Still listed ready, but refusing connections (a crashed pod not yet noticed).
    await (backends.find((backend) => backend.name === home) as TestBackend).close();
    const kept = await sendAs('/shop', cookie);
    assert.notEqual(kept.body, home);
    assert.equal(setCookieOf(kept), undefined, 'without change-on-failure the cookie stays');
    // The same Service keys both routes' cookies: the value names the same (dead) endpoint.
    await assertMovedWithNewCookie('/basket', cookie.replace(/^route=/, 'INGRESSCOOKIE='), home);
  });

  test('balanced with change-on-failure: a failing endpoint gets the session a new key', async () => {
    const cookie = cookiePair(setCookieOf(await sendAs('/bag', undefined)));
    const home = await stickyBackend('/bag', cookie);
    await (backends.find((backend) => backend.name === home) as TestBackend).close();
    await assertMovedWithNewCookie('/bag', cookie, home);
  });

  test('a made-up cookie value is replaced', async () => {
    const forged = await sendAs('/shop', 'route=AAAAAAAAAAAAAAAAAAAAAA');
    assert.ok(setCookieOf(forged));
  });

  test('balanced: a session key sticks across an unrelated removal, and follows its endpoint out', async () => {
    const first = await sendAs('/cart', undefined);
    const line = setCookieOf(first);
    assert.match(line ?? '', /^INGRESSCOOKIE=[A-Za-z0-9_-]{22}; Path=\/cart; HttpOnly$/);
    const cookie = cookiePair(line);
    const home = await stickyBackend('/cart', cookie);
    assert.equal(home, first.body);
    const other = backends.slice(0, 3).find((backend) => backend.name !== home) as TestBackend;
    setEndpoints(backends.slice(0, 3).filter((backend) => backend !== other));
    assert.equal(await stickyBackend('/cart', cookie), home, 'removing another endpoint moves nobody');
    setEndpoints(backends.slice(0, 3).filter((backend) => backend.name !== home));
    const next = await stickyBackend('/cart', cookie);
    assert.notEqual(next, home, 'its endpoint left: the key now lives on another one, for good');
  });
});

describe('upstream-hash-by', () => {
  let backends: TestBackend[];
  let running: RunningProxy;

  beforeEach(async () => {
    backends = await startNamedBackends('pod', ADDRESSES.slice(0, 3));
    const state = new TestLiveState(
      manifests(
        serviceYaml('web'),
        ...slicesFor('web', backends),
        ingressYaml('hashed', 'app.test', [{ path: '/', service: 'web' }], {
          [`${P}upstream-hash-by`]: 'user:$http_x_user',
        }),
        ingressYaml('by-uri', 'app.test', [{ path: '/files', service: 'web' }], {
          [`${P}upstream-hash-by`]: '$request_uri',
        }),
      ),
    );
    assert.deepEqual(state.diagnostics, []);
    running = await startProxy(state);
  });

  afterEach(async () => {
    await running.close();
    for (const backend of backends) await backend.close();
  });

  test('equal header values reach the same endpoint; different ones spread', async () => {
    const placed = new Map<string, string>();
    for (let round = 0; round < 4; round++) {
      for (let user = 0; user < 12; user++) {
        const { body } = await send(running.port, { path: `/page-${round}`, headers: { 'x-user': `user-${user}` } });
        const before = placed.get(`user-${user}`);
        if (before !== undefined) assert.equal(body, before, `user-${user} moved`);
        placed.set(`user-${user}`, body);
      }
    }
    assert.ok(new Set(placed.values()).size >= 2, 'users spread over more than one endpoint');
  });

  test('$request_uri: the same URI, the same endpoint', async () => {
    for (const uri of ['/files/a.txt', '/files/b.txt?v=2', '/files/c']) {
      const bodies = new Set<string>();
      for (let index = 0; index < 5; index++) bodies.add((await send(running.port, { path: uri })).body);
      assert.equal(bodies.size, 1, `${uri} went to ${[...bodies]}`);
    }
  });
});

describe('a canary Ingress brings its own affinity', () => {
  let main: TestBackend[];
  let canary: TestBackend[];
  let running: RunningProxy;

  beforeEach(async () => {
    main = await startNamedBackends('main', ADDRESSES.slice(0, 2));
    canary = await startNamedBackends('canary', ADDRESSES.slice(2, 4));
    const state = new TestLiveState(
      manifests(
        serviceYaml('web'),
        serviceYaml('next'),
        ...slicesFor('web', main),
        ...slicesFor('next', canary),
        ingressYaml('main', 'app.test', [{ path: '/', service: 'web' }]),
        ingressYaml('next', 'app.test', [{ path: '/', service: 'next' }], {
          [`${P}canary`]: 'true',
          [`${P}canary-by-header`]: 'x-canary',
          [`${P}affinity`]: 'cookie',
          [`${P}affinity-mode`]: 'persistent',
          [`${P}session-cookie-name`]: 'canary-route',
        }),
      ),
    );
    assert.deepEqual(state.diagnostics, []);
    running = await startProxy(state);
  });

  afterEach(async () => {
    await running.close();
    for (const backend of [...main, ...canary]) await backend.close();
  });

  test('requests the canary takes are sticky by its cookie; the main route stays round-robin', async () => {
    const first = await send(running.port, { headers: { 'x-canary': 'always' } });
    assert.match(first.body, /^canary/);
    const cookie = cookiePair(setCookieOf(first));
    assert.match(cookie, /^canary-route=/);
    for (let index = 0; index < 10; index++) {
      const response = await send(running.port, { headers: { 'x-canary': 'always', cookie } });
      assert.equal(response.body, first.body);
      assert.equal(setCookieOf(response), undefined);
    }
    const mainBodies = new Set<string>();
    for (let index = 0; index < 4; index++) {
      const response = await send(running.port, { headers: { cookie } });
      assert.equal(setCookieOf(response), undefined, 'the main route has no affinity');
      mainBodies.add(response.body);
    }
    assert.deepEqual([...mainBodies].sort(), ['main0', 'main1']);
  });
});
