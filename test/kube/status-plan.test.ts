import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { microTime } from '../../src/kube/leader-lease.ts';
import { planStatusUpdates, publishedAddresses } from '../../src/kube/status-plan.ts';
import type { IngressRecord, ServiceRecord } from '../../src/model/records.ts';
import { normalizeObject } from '../../src/normalize/normalize-object.ts';

function ingress(name: string, statusIps: string[]): IngressRecord {
  const result = normalizeObject({
    kind: 'Ingress',
    metadata: { name, namespace: 'web' },
    spec: {},
    status: { loadBalancer: { ingress: statusIps.map((ip) => ({ ip })) } },
  });
  assert.ok(result.ok);
  return result.record as IngressRecord;
}

function service(lbIps: string[], externalIPs: string[]): ServiceRecord {
  const result = normalizeObject({
    kind: 'Service',
    metadata: { name: 'portico', namespace: 'ingress' },
    spec: { type: 'LoadBalancer', externalIPs, ports: [{ port: 80 }] },
    status: { loadBalancer: { ingress: lbIps.map((ip) => ({ ip })) } },
  });
  assert.ok(result.ok);
  return result.record as ServiceRecord;
}

describe('status plan', () => {
  const ours = [{ ip: '203.0.113.7', hostname: undefined }];

  it('writes our address to served Ingresses that lack it, and clears the ones we stopped serving', () => {
    const ingresses = new Map(
      [
        ingress('new', []),
        ingress('stale', ['198.51.100.1']),
        ingress('done', ['203.0.113.7']),
        ingress('left', ['203.0.113.7']),
        ingress('foreign', ['192.0.2.9']),
      ].map((record) => [record.key, record]),
    );
    const plan = planStatusUpdates(ingresses, new Set(['web/new', 'web/stale', 'web/done']), ours);
    assert.deepEqual(
      plan.map((update) => `${update.name}:${update.addresses.map((a) => a.ip).join(',') || 'clear'}`),
      ['new:203.0.113.7', 'stale:203.0.113.7', 'left:clear'],
    );
  });

  it('writes nothing without an address to publish', () => {
    const ingresses = new Map([[ingress('new', []).key, ingress('new', [])]]);
    assert.deepEqual(planStatusUpdates(ingresses, new Set(['web/new']), []), []);
  });

  it('takes addresses from the flag, else the published Service load balancer, else its external IPs', () => {
    const services = new Map([['ingress/portico', service(['203.0.113.7'], ['192.0.2.1'])]]);
    assert.deepEqual(
      publishedAddresses(
        { statusAddresses: ['10.0.0.1', 'lb.example.com'], publishService: 'ingress/portico' },
        services,
      ),
      [
        { ip: '10.0.0.1', hostname: undefined },
        { ip: undefined, hostname: 'lb.example.com' },
      ],
    );
    assert.deepEqual(publishedAddresses({ statusAddresses: [], publishService: 'ingress/portico' }, services), [
      { ip: '203.0.113.7', hostname: undefined },
    ]);
    const pending = new Map([['ingress/portico', service([], ['192.0.2.1'])]]);
    assert.deepEqual(publishedAddresses({ statusAddresses: [], publishService: 'ingress/portico' }, pending), [
      { ip: '192.0.2.1', hostname: undefined },
    ]);
    assert.deepEqual(publishedAddresses({ statusAddresses: [], publishService: 'ingress/missing' }, pending), []);
  });

  it('formats Lease times with microseconds', () => {
    assert.equal(microTime(Date.UTC(2026, 10, 23, 18, 0, 0, 123)), '2026-11-23T18:00:00.123000Z');
  });
});
