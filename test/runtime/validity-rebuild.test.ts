// Certificates expire and start on their own schedule: the control loop, wired as main.ts wires
// it, rebuilds just after each moment its TLS binding would decide differently, so the
// diagnostic and the fallback come on time and not at the next unrelated change.

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createControlMetrics } from '../../src/admin/control-metrics.ts';
import { createMetrics } from '../../src/admin/metrics.ts';
import { compile } from '../../src/compile/compile.ts';
import { DEFAULT_COMPILE_OPTIONS } from '../../src/compile/compile-options.ts';
import { ControlLoop } from '../../src/runtime/control-loop.ts';
import { rebuildWhenValidityChanges } from '../../src/runtime/validity-rebuild.ts';
import { compileWithTls } from '../../src/tls/compile-with-tls.ts';
import { generateCertificate, type GeneratedCertificate } from '../../src/tls/generate-certificate.ts';
import { INGRESS_CLASS_YAML, manifests, serviceYaml } from '../support/cluster-manifests.ts';
import { recordsFromYaml } from '../support/test-live-state.ts';
import { tlsIngressYaml, tlsSecretYaml } from '../tls/tls-harness.ts';
import { captureLogger } from './capture-logger.ts';
import { ManualClock } from './manual-clock.ts';

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;
/** the wall clock at the manual clock's zero */
const START_MS = Date.UTC(2026, 10, 29, 12, 0, 0);
const SOON_END = START_MS + 10 * MINUTE_MS;
const LATER_END = START_MS + 30 * DAY_MS;

function ingressFor(name: string): string {
  return tlsIngressYaml(name, {
    hosts: [`${name}.test`],
    tls: [{ hosts: [`${name}.test`], secretName: `${name}-tls` }],
  });
}

describe('rebuilds when a certificate expires or becomes valid', () => {
  let soon: GeneratedCertificate;
  let later: GeneratedCertificate;

  before(async () => {
    [soon, later] = await Promise.all([
      // Served now, expires in 10 minutes.
      generateCertificate({
        commonName: 'soon.test',
        dnsNames: ['soon.test'],
        notBefore: new Date(START_MS - DAY_MS),
        notAfter: new Date(SOON_END),
      }),
      // Not valid for 5 more minutes.
      generateCertificate({
        commonName: 'later.test',
        dnsNames: ['later.test'],
        notBefore: new Date(START_MS + 5 * MINUTE_MS),
        notAfter: new Date(LATER_END),
      }),
    ]);
  });

  function start(yaml: string) {
    const clock = new ManualClock();
    const wallClock = () => START_MS + clock.now();
    const registry = new Registry();
    const loop = new ControlLoop({
      compile: compileWithTls(compile, { defaultCertificateSecret: undefined, now: wallClock }),
      compileOptions: DEFAULT_COMPILE_OPTIONS,
      holdoffMs: 50,
      maxDelayMs: 500,
      logger: captureLogger().logger,
      metrics: createMetrics(registry),
      controlMetrics: createControlMetrics(registry),
      clock,
    });
    rebuildWhenValidityChanges(loop, { wallClock, clock });
    loop.applyChanges(recordsFromYaml(yaml).map((record) => ({ type: 'upsert' as const, record })));
    loop.markSynced();
    /** the end of validity of the certificate served for `host`, undefined for the default one */
    const served = (host: string) => loop.routing().table.certificates?.hosts.get(host)?.certificate.notAfter;
    return { clock, loop, served };
  }

  it('serves each certificate exactly while it is valid, rebuilding at each boundary', () => {
    const { clock, loop, served } = start(
      manifests(
        INGRESS_CLASS_YAML,
        serviceYaml('web'),
        tlsSecretYaml('soon-tls', soon),
        ingressFor('soon'),
        tlsSecretYaml('later-tls', later),
        ingressFor('later'),
      ),
    );
    assert.equal(loop.routing().generation, 1);
    assert.equal(served('soon.test'), SOON_END);
    assert.equal(served('later.test'), undefined, 'not valid yet: the default certificate');
    assert.equal(loop.routing().table.certificates?.nextValidityChangeMs, START_MS + 5 * MINUTE_MS);

    // Nothing changes in the cluster; the clock alone passes `later`'s start.
    clock.advance(5 * MINUTE_MS + 2_000);
    assert.equal(loop.routing().generation, 2, 'rebuilt once, just after the start');
    assert.equal(served('later.test'), LATER_END);
    assert.equal(served('soon.test'), SOON_END);

    clock.advance(5 * MINUTE_MS);
    assert.equal(loop.routing().generation, 3, 'and once more just after the expiry');
    assert.equal(served('soon.test'), undefined, 'expired: the default certificate');
    assert.equal(served('later.test'), LATER_END);

    // `later` expires in 30 days: the next wait is that long, not a rebuild loop meanwhile.
    clock.advance(DAY_MS);
    assert.equal(loop.routing().generation, 3);
  });

  it('sets no timer for a table without certificates', () => {
    const { clock, loop } = start(manifests(INGRESS_CLASS_YAML, serviceYaml('web')));
    assert.equal(loop.routing().generation, 1);
    assert.equal(clock.pendingTimers, 0);
  });
});
