// Which Ingress statuses to write (pure): every Ingress we serve gets our addresses; one we
// no longer serve that still shows exactly our addresses is cleared. Nothing is written when
// the status already says the right thing.

import type { IngressRecord, LoadBalancerAddress, ServiceRecord } from '../model/records.ts';

export interface StatusUpdate {
  readonly namespace: string;
  readonly name: string;
  readonly addresses: readonly LoadBalancerAddress[];
}

export interface PublishSettings {
  /** --publish-status-address: written as given */
  readonly statusAddresses: readonly string[];
  /** --publish-service ns/name */
  readonly publishService: string | undefined;
}

const IPV4_OR_6 = /^[0-9.]+$|:/;

export function addressFromText(text: string): LoadBalancerAddress {
  return IPV4_OR_6.test(text) ? { ip: text, hostname: undefined } : { ip: undefined, hostname: text };
}

/** The addresses to publish, in ingress-nginx's order of sources; [] when none is known. */
export function publishedAddresses(
  settings: PublishSettings,
  services: ReadonlyMap<string, ServiceRecord>,
): readonly LoadBalancerAddress[] {
  if (settings.statusAddresses.length > 0) return settings.statusAddresses.map(addressFromText);
  if (!settings.publishService) return [];
  const service = services.get(settings.publishService);
  if (!service) return [];
  if (service.loadBalancerIngress.length > 0) return service.loadBalancerIngress;
  return service.externalIPs.map(addressFromText);
}

function addressKey(address: LoadBalancerAddress): string {
  return `${address.ip ?? ''}|${address.hostname ?? ''}`;
}

export function sameAddresses(a: readonly LoadBalancerAddress[], b: readonly LoadBalancerAddress[]): boolean {
  const left = a.map(addressKey).sort();
  const right = b.map(addressKey).sort();
  return left.length === right.length && left.every((key, index) => key === right[index]);
}

export function planStatusUpdates(
  ingresses: ReadonlyMap<string, IngressRecord>,
  served: ReadonlySet<string>,
  addresses: readonly LoadBalancerAddress[],
): StatusUpdate[] {
  const updates: StatusUpdate[] = [];
  for (const ingress of ingresses.values()) {
    if (served.has(ingress.key)) {
      if (addresses.length > 0 && !sameAddresses(ingress.statusAddresses, addresses)) {
        updates.push({ namespace: ingress.namespace, name: ingress.name, addresses });
      }
    } else if (
      addresses.length > 0 &&
      ingress.statusAddresses.length > 0 &&
      sameAddresses(ingress.statusAddresses, addresses)
    ) {
      updates.push({ namespace: ingress.namespace, name: ingress.name, addresses: [] });
    }
  }
  return updates;
}
