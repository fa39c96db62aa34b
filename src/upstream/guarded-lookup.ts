// DNS for ExternalName backends, resolved at connect time (ROUTING.md section 6), refusing
// loopback and link-local answers: an ExternalName pointing at `localhost` or at the cloud
// metadata address (169.254.169.254) must not turn the proxy into a door to itself or its node.

import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOneOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { UpstreamError } from './upstream-error-status.ts';

/** The shape `net.connect({ lookup })` calls, with `all` set when happy eyeballs is on. */
export type ConnectLookup = (
  hostname: string,
  options: LookupOneOptions | LookupAllOptions,
  callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
) => void;

export type AddressPolicy = (address: string) => boolean;

const FORBIDDEN = new BlockList();
FORBIDDEN.addSubnet('127.0.0.0', 8, 'ipv4'); // loopback (RFC 1122)
FORBIDDEN.addSubnet('0.0.0.0', 8, 'ipv4'); // "this network": 0.0.0.0 reaches the local host on Linux
FORBIDDEN.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local (RFC 3927)
FORBIDDEN.addAddress('::1', 'ipv6'); // loopback (RFC 4291)
FORBIDDEN.addAddress('::', 'ipv6');
FORBIDDEN.addSubnet('fe80::', 10, 'ipv6'); // link-local (RFC 4291)

/** Loopback, unspecified and link-local addresses, IPv4-mapped forms included. */
export function isLoopbackOrLinkLocal(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return FORBIDDEN.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export interface GuardedLookupOptions {
  /** resolver to wrap (default `dns.lookup`) */
  readonly lookup?: ConnectLookup | undefined;
  /** answers this refuses (default: loopback and link-local) */
  readonly isForbidden?: AddressPolicy | undefined;
}

/** A `lookup` for `net.connect` that drops forbidden answers and fails when none is left. */
export function createGuardedLookup(options: GuardedLookupOptions = {}): ConnectLookup {
  const resolve = options.lookup ?? (dnsLookup as unknown as ConnectLookup);
  const isForbidden = options.isForbidden ?? isLoopbackOrLinkLocal;
  return (hostname, lookupOptions, callback) => {
    resolve(hostname, { ...lookupOptions, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const all = (Array.isArray(addresses) ? addresses : [{ address: addresses, family: isIP(addresses) }]).filter(
        (entry) => !isForbidden(entry.address),
      );
      const first = all[0];
      if (!first) {
        const refused = new UpstreamError(
          'PORTICO_ERR_UPSTREAM_ADDRESS_FORBIDDEN',
          `${hostname} resolves only to loopback or link-local addresses`,
        );
        return callback(refused as NodeJS.ErrnoException, []);
      }
      if ((lookupOptions as LookupAllOptions).all) callback(null, all);
      else callback(null, first.address, first.family);
    });
  };
}

/** Resolves one usable address (for WebSocket upgrades, which connect through http-proxy). */
export function resolveGuarded(lookup: ConnectLookup, hostname: string): Promise<string> {
  return new Promise((resolve, reject) => {
    lookup(hostname, {}, (error, address) => {
      if (error) reject(error);
      else resolve(typeof address === 'string' ? address : (address[0]?.address ?? ''));
    });
  });
}
