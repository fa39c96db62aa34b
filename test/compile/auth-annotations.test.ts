// auth-type / auth-secret / auth-secret-type / auth-realm / auth-url grammar through compile:
// each bad value gives one diagnostic; anything that leaves authentication unusable makes the
// routes fail closed (503), never open; a bad realm alone falls back to the default.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compile } from '../../src/compile/compile.ts';
import type { RouteAuth } from '../../src/routing/route-table.ts';
import { snapshotFromRecords } from '../../src/store/cluster-snapshot.ts';
import { ingressYaml, manifests, opaqueSecretYaml, serviceYaml } from '../support/cluster-manifests.ts';
import { recordsFromYaml } from '../support/test-live-state.ts';

const NGINX = 'nginx.ingress.kubernetes.io/';
const HTPASSWD = 'alice:{SHA}/vNB+F2HQ559kaLUZbmHHvZrXpg=\n';
const OTHER_NAMESPACE_SECRET = opaqueSecretYaml('staff', { data: { auth: HTPASSWD } }).replace(
  'namespace: default',
  'namespace: other',
);

function compileWith(annotations: Record<string, string>): { auth: RouteAuth | undefined; diagnostics: string[] } {
  const yaml = manifests(
    serviceYaml('app'),
    opaqueSecretYaml('staff', { data: { auth: HTPASSWD } }),
    opaqueSecretYaml('no-key', { stringData: { htpasswd: HTPASSWD } }),
    opaqueSecretYaml('users', { stringData: { alice: '{SHA}/vNB+F2HQ559kaLUZbmHHvZrXpg=' } }),
    OTHER_NAMESPACE_SECRET,
    ingressYaml('web', 'auth.test', [{ path: '/', service: 'app' }], annotations),
  );
  const { table, diagnostics } = compile(snapshotFromRecords(recordsFromYaml(yaml)));
  return {
    auth: table.exactHosts.get('auth.test')?.routes[0]?.attributes.auth,
    diagnostics: diagnostics
      .filter((diagnostic) => diagnostic.code !== 'MissingService' && diagnostic.code !== 'NoEndpoints')
      .map((diagnostic) => `${diagnostic.code}: ${diagnostic.reason}`),
  };
}

const basic = (secret: string, extra: Record<string, string> = {}): Record<string, string> => ({
  [`${NGINX}auth-type`]: 'basic',
  [`${NGINX}auth-secret`]: secret,
  ...extra,
});

describe('auth annotations', () => {
  it('basic with a same-namespace Secret, by name or namespace/name, with its realm', () => {
    for (const secret of ['staff', 'default/staff']) {
      const { auth, diagnostics } = compileWith(basic(secret, { [`${NGINX}auth-realm`]: 'Team A' }));
      assert.deepEqual(diagnostics, []);
      assert.equal(auth?.kind, 'basic');
      assert.ok(auth?.kind === 'basic' && auth.realm === 'Team A' && auth.secretKey === 'default/staff');
      assert.deepEqual(auth.kind === 'basic' && [...auth.credentials.keys()], ['alice']);
    }
  });

  it('auth-map reads one user per key', () => {
    const { auth, diagnostics } = compileWith(basic('users', { [`${NGINX}auth-secret-type`]: 'auth-map' }));
    assert.deepEqual(diagnostics, []);
    assert.ok(auth?.kind === 'basic' && auth.credentials.has('alice'));
  });

  it('auth-secret without auth-type does nothing', () => {
    assert.deepEqual(compileWith({ [`${NGINX}auth-secret`]: 'staff' }), { auth: undefined, diagnostics: [] });
  });

  const closed: { name: string; annotations: Record<string, string>; reason: RegExp }[] = [
    {
      name: 'digest',
      annotations: basic('staff', { [`${NGINX}auth-type`]: 'digest' }),
      reason: /digest.*not supported/,
    },
    {
      name: 'an unknown auth-type',
      annotations: basic('staff', { [`${NGINX}auth-type`]: 'basci' }),
      reason: /auth-type must be "basic"/,
    },
    { name: 'no auth-secret', annotations: { [`${NGINX}auth-type`]: 'basic' }, reason: /auth-secret is missing/ },
    { name: 'a malformed auth-secret', annotations: basic('Staff_Secret'), reason: /must be a Secret name/ },
    { name: 'a Secret in another namespace', annotations: basic('other/staff'), reason: /another namespace/ },
    { name: 'a missing Secret', annotations: basic('nope'), reason: /default\/nope does not exist/ },
    { name: 'a Secret without key auth', annotations: basic('no-key'), reason: /no data key "auth"/ },
    {
      name: 'an unknown auth-secret-type',
      annotations: basic('staff', { [`${NGINX}auth-secret-type`]: 'htpasswd' }),
      reason: /auth-secret-type must be/,
    },
    {
      name: 'auth-url',
      annotations: { [`${NGINX}auth-url`]: 'http://auth.example/check' },
      reason: /auth-url.*not supported/,
    },
  ];
  for (const { name, annotations, reason } of closed) {
    it(`${name}: one diagnostic, and the route fails closed (503)`, () => {
      const { auth, diagnostics } = compileWith(annotations);
      assert.equal(diagnostics.length, 1, diagnostics.join('\n'));
      assert.match(diagnostics[0] as string, reason);
      assert.match(diagnostics[0] as string, /answer 503/);
      assert.equal(auth?.kind, 'unavailable');
    });
  }

  it('a bad auth-realm alone is ignored: the default realm, authentication still on', () => {
    const { auth, diagnostics } = compileWith(basic('staff', { [`${NGINX}auth-realm`]: 'say "hi"' }));
    assert.equal(diagnostics.length, 1);
    assert.match(diagnostics[0] as string, /^InvalidAnnotation: annotation .*auth-realm/);
    assert.ok(auth?.kind === 'basic' && auth.realm === 'Authentication Required');
  });
});
