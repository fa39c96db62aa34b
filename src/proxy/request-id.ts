// X-Request-ID: a client's (or an outer proxy's) id is kept when it looks like an id, so one
// id follows the request through every hop; otherwise Portico makes one (ingress-nginx's $req_id).
//
// A made id is UUID-shaped (RFC 9562 version 8, the vendor-specific layout): 74 random bits
// drawn once per process, then a 48-bit counter. Unique across replicas and restarts with
// overwhelming probability (two processes share a prefix with odds about 2^-74), and cheaper
// than randomUUID() per request, which the profile showed at about 0.8%. The ids are not
// secrets and are not meant to be unguessable: they correlate log lines.

import { randomBytes } from 'node:crypto';

/** Visible ASCII without spaces or quotes, at most 128 characters: safe in logs and headers. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._~:+/=@-]{1,128}$/;

/** The counter fills the UUID's last group: 12 hex digits. */
const COUNTER_LIMIT = 2 ** 48;

let prefix = randomPrefix();
let counter = 0;

/** `xxxxxxxx-xxxx-8xxx-Vxxx-`: version 8, variant 10 (RFC 9562 section 4). */
function randomPrefix(): string {
  const hex = randomBytes(10).toString('hex');
  const variant = ((Number.parseInt(hex.charAt(16), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-`;
}

/** Two hex digits per byte value: the counter's low 16 bits are two lookups. */
const HEX_BYTES: readonly string[] = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/** The id up to the counter's low 16 bits, remade once every 65,536 ids. */
let highPart = '';
let highOfCounter = -1;

/**
 * A new id, unique to this process. Built from few, cached pieces: V8 keeps a concatenation
 * as a rope that is flattened when the header is written, and randomUUID()'s 16 pieces cost
 * more there than the id itself.
 */
export function newRequestId(): string {
  if (counter === COUNTER_LIMIT) {
    prefix = randomPrefix();
    counter = 0;
    highOfCounter = -1;
  }
  const value = counter++;
  const high = Math.floor(value / 65_536);
  if (high !== highOfCounter) {
    highOfCounter = high;
    highPart = prefix + high.toString(16).padStart(8, '0');
  }
  return highPart + HEX_BYTES[(value >>> 8) & 0xff] + HEX_BYTES[value & 0xff];
}

export function requestIdFrom(header: string | readonly string[] | undefined): string {
  if (typeof header === 'string' && SANE_REQUEST_ID.test(header)) return header;
  return newRequestId();
}
