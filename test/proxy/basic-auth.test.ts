// auth-type: basic through the real proxy: 401 with WWW-Authenticate without or with wrong
// credentials, 200 with right ones (apr1, {SHA}, bcrypt; htpasswd file and auth-map), the
// Authorization header never reaching the backend, 503 for a route whose Secret is missing
// while its neighbours serve, a live Secret edit changing who gets in, and WebSocket upgrades
// held to the same rules.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ingressYaml, manifests, opaqueSecretYaml, serviceYaml, sliceYaml } from '../support/cluster-manifests.ts';
import { type RunningProxy, send, startProxy } from '../support/proxy-harness.ts';
import { startBackend, type TestBackend } from '../support/test-backends.ts';
import { TestLiveState } from '../support/test-live-state.ts';

const NGINX = 'nginx.ingress.kubernetes.io/';
const HOST = 'auth.test';
// printf pw | openssl passwd -apr1 -salt Xy7s9QqZ -stdin
const ALICE_PW = '$apr1$Xy7s9QqZ$u5FHivKLm2VO5bldR.Yhd/';
// printf s3cret | openssl dgst -sha1 -binary | base64
const BOB_S3CRET = '{SHA}/vNB+F2HQ559kaLUZbmHHvZrXpg=';
// the OpenBSD bcrypt test vector: password "U*U", cost 5
const CAROL_UU = '$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW';

function basic(user: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

function world(htpasswd: string): string {
  const auth = (secret: string, extra: Record<string, string> = {}): Record<string, string> => ({
    [`${NGINX}auth-type`]: 'basic',
    [`${NGINX}auth-secret`]: secret,
    ...extra,
  });
  return manifests(
    serviceYaml('app'),
    opaqueSecretYaml('staff', { data: { auth: htpasswd } }),
    opaqueSecretYaml('staff-map', { stringData: { alice: ALICE_PW, carol: CAROL_UU } }),
    ingressYaml(
      'private',
      HOST,
      [{ path: '/private', service: 'app' }],
      auth('staff', { [`${NGINX}auth-realm`]: 'Staff only' }),
    ),
    ingressYaml(
      'mapped',
      HOST,
      [{ path: '/mapped', service: 'app' }],
      auth('default/staff-map', { [`${NGINX}auth-secret-type`]: 'auth-map' }),
    ),
    ingressYaml('missing', HOST, [{ path: '/missing', service: 'app' }], auth('nobody-made-this')),
    ingressYaml('open', HOST, [{ path: '/open', service: 'app' }]),
  );
}

describe('basic authentication through the proxy', () => {
  let backend: TestBackend;
  let sliceDoc: string;
  let state: TestLiveState;
  let running: RunningProxy;

  before(async () => {
    backend = await startBackend('app', '127.0.0.2');
    sliceDoc = sliceYaml('app', [{ ip: backend.address, port: backend.port }]);
    state = new TestLiveState(`${world(`alice:${ALICE_PW}\nbob:${BOB_S3CRET}\ncarol:${CAROL_UU}\n`)}---\n${sliceDoc}`);
    running = await startProxy(state);
  });

  after(async () => {
    await running.close();
    await backend.close();
  });

  test('no credentials: 401 with the realm, and the backend is not asked', async () => {
    const seen = backend.seen.length;
    const response = await send(running.port, { host: HOST, path: '/private' });
    assert.equal(response.status, 401);
    assert.equal(response.headers['www-authenticate'], 'Basic realm="Staff only", charset="UTF-8"');
    assert.match(response.body, /PORTICO_ERR_UNAUTHORIZED/);
    assert.equal(backend.seen.length, seen);
  });

  test('wrong password, unknown user, or another scheme: 401', async () => {
    for (const headers of [
      basic('alice', 'wrong'),
      basic('bob', 'S3cret'),
      basic('carol', 'U*V'),
      basic('mallory', 'pw'),
      { authorization: 'Bearer pw' },
    ]) {
      const response = await send(running.port, { host: HOST, path: '/private', headers });
      assert.equal(response.status, 401, String(headers.authorization));
      assert.match(String(response.headers['www-authenticate']), /^Basic realm=/);
    }
  });

  test('right passwords (apr1, {SHA}, bcrypt) pass, and Authorization stays at the proxy', async () => {
    for (const headers of [basic('alice', 'pw'), basic('bob', 's3cret'), basic('carol', 'U*U')]) {
      const response = await send(running.port, { host: HOST, path: '/private/page', headers });
      assert.equal(response.status, 200, String(headers.authorization));
      const echoed = JSON.parse(response.body) as { headers: Record<string, string> };
      assert.equal(echoed.headers.authorization, undefined);
    }
  });

  test('auth-map Secret written with stringData, named as namespace/name; default realm', async () => {
    assert.equal(
      (await send(running.port, { host: HOST, path: '/mapped', headers: basic('carol', 'U*U') })).status,
      200,
    );
    const refused = await send(running.port, { host: HOST, path: '/mapped', headers: basic('bob', 's3cret') });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers['www-authenticate'], 'Basic realm="Authentication Required", charset="UTF-8"');
  });

  test('a missing Secret: that route answers 503 with a diagnostic, the others serve', async () => {
    const missing = await send(running.port, { host: HOST, path: '/missing', headers: basic('alice', 'pw') });
    assert.equal(missing.status, 503);
    assert.match(missing.body, /PORTICO_ERR_AUTH_UNAVAILABLE/);
    assert.ok(state.diagnostics.includes('Ingress default/missing: InvalidAuthSecret'), state.diagnostics.join('\n'));
    assert.equal((await send(running.port, { host: HOST, path: '/open' })).status, 200);
    assert.equal(
      (await send(running.port, { host: HOST, path: '/private', headers: basic('alice', 'pw') })).status,
      200,
    );
  });

  test('a WebSocket upgrade without credentials gets 401 with the challenge', async () => {
    const head = await new Promise<string>((resolve, reject) => {
      const socket = connect(running.port, '127.0.0.1', () => {
        socket.write(
          `GET /private/ws HTTP/1.1\r\nHost: ${HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
        );
      });
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    assert.match(head, /^HTTP\/1\.1 401 /);
    assert.match(head, /\r\nWWW-Authenticate: Basic realm="Staff only"/);
  });

  test('a live Secret edit changes who gets in', async () => {
    state.load(`${world(`alice:${BOB_S3CRET}\n`)}---\n${sliceDoc}`);
    assert.equal(
      (await send(running.port, { host: HOST, path: '/private', headers: basic('alice', 'pw') })).status,
      401,
    );
    assert.equal(
      (await send(running.port, { host: HOST, path: '/private', headers: basic('alice', 's3cret') })).status,
      200,
    );
    assert.equal(
      (await send(running.port, { host: HOST, path: '/private', headers: basic('bob', 's3cret') })).status,
      401,
    );
    // A Secret with no usable line left: 503, and the diagnostic names the line only.
    state.load(`${world('alice:abJnggxhB/yWI\n')}---\n${sliceDoc}`);
    assert.equal(
      (await send(running.port, { host: HOST, path: '/private', headers: basic('alice', 'pw') })).status,
      503,
    );
    assert.equal((await send(running.port, { host: HOST, path: '/open' })).status, 200);
  });
});
