// Certificate rotation under load: while clients keep opening new TLS connections, the Secret
// is replaced several times. No handshake or request may fail, every handshake gets one of
// the two certificates, new handshakes get the new one as soon as the table is swapped, and
// a connection opened before a swap keeps its certificate and keeps working.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { INGRESS_CLASS_YAML, manifests, serviceYaml, sliceYaml } from '../support/cluster-manifests.ts';
import { startBackend, type TestBackend } from '../support/test-backends.ts';
import {
  fingerprintOf,
  type GeneratedCertificate,
  generateCertificate,
  handshake,
  h2Status,
  httpsGet,
  openH2Session,
  type RunningTlsProxy,
  startTlsProxy,
  tlsIngressYaml,
  tlsSecretYaml,
  TlsTestState,
} from './tls-harness.ts';

/** Bounded: this many client loops, each at most this many requests, and a time cap. */
const CLIENTS = 8;
const MAX_REQUESTS_PER_CLIENT = 60;
const MAX_LOAD_MS = 10_000;
const SWAPS = 6;

describe('certificate rotation', () => {
  let web: TestBackend;
  let first: GeneratedCertificate;
  let second: GeneratedCertificate;
  let running: RunningTlsProxy;
  let state: TlsTestState;
  let base: string;

  function withSecret(pair: GeneratedCertificate): string {
    return manifests(base, tlsSecretYaml('rot-tls', pair));
  }

  before(async () => {
    web = await startBackend('web', '127.0.0.2');
    [first, second] = await Promise.all([
      generateCertificate({ commonName: 'rot.test v1', dnsNames: ['rot.test'] }),
      generateCertificate({ commonName: 'rot.test v2', dnsNames: ['rot.test'] }),
    ]);
    base = manifests(
      INGRESS_CLASS_YAML,
      serviceYaml('web'),
      sliceYaml('web', [{ ip: web.address, port: web.port }]),
      tlsIngressYaml('rot', { hosts: ['rot.test'], tls: [{ hosts: ['rot.test'], secretName: 'rot-tls' }] }),
    );
    state = new TlsTestState(withSecret(first));
    running = await startTlsProxy(state);
  });

  after(async () => {
    await running.close();
    await web.close();
  });

  test('rotating under load: zero failed handshakes, and new handshakes see each swap at once', async () => {
    const expected = new Set([fingerprintOf(first.certPem), fingerprintOf(second.certPem)]);
    const seen = new Map<string, number>();
    const failures: string[] = [];
    let stop = false;
    const startedAt = Date.now();

    async function client(): Promise<number> {
      let done = 0;
      while (!stop && done < MAX_REQUESTS_PER_CLIENT && Date.now() - startedAt < MAX_LOAD_MS) {
        try {
          // Every request is a new connection, so every request is a new handshake.
          const response = await httpsGet(running.httpsPort, { host: 'rot.test' });
          if (response.status !== 200) failures.push(`status ${response.status}`);
          const served = await handshake(running.httpsPort, 'rot.test');
          seen.set(served.fingerprint256, (seen.get(served.fingerprint256) ?? 0) + 1);
        } catch (error) {
          failures.push(error instanceof Error ? error.message : String(error));
        }
        done++;
      }
      return done;
    }

    const load = Promise.all(Array.from({ length: CLIENTS }, () => client()));
    let current = first;
    for (let swap = 0; swap < SWAPS; swap++) {
      await new Promise((resolve) => setTimeout(resolve, 60));
      current = current === first ? second : first;
      state.load(withSecret(current));
      // The very next handshake after the swap already gets the new certificate.
      assert.equal((await handshake(running.httpsPort, 'rot.test')).fingerprint256, fingerprintOf(current.certPem));
    }
    stop = true;
    const counts = await load;
    const total = counts.reduce((sum, count) => sum + count, 0);
    assert.deepEqual(failures, []);
    assert.ok(total >= CLIENTS, `the load ran (${total} requests)`);
    for (const fingerprint of seen.keys())
      assert.ok(expected.has(fingerprint), 'only the two certificates are ever served');
    assert.equal(seen.size, 2, 'both certificates were served during the run');
  });

  test('a connection opened before a swap keeps its certificate and keeps serving', async () => {
    state.load(withSecret(first));
    const session = await openH2Session(running.httpsPort, 'rot.test');
    try {
      const get = (): Promise<number> => h2Status(session, 'rot.test');
      assert.equal(await get(), 200);
      state.load(withSecret(second));
      assert.equal(await get(), 200);
      const socket = session.socket as TLSSocket;
      assert.equal(socket.getPeerCertificate().fingerprint256, fingerprintOf(first.certPem));
      assert.equal((await handshake(running.httpsPort, 'rot.test')).fingerprint256, fingerprintOf(second.certPem));
    } finally {
      session.close();
    }
  });
});
