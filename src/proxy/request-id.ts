// X-Request-ID: a client's (or an outer proxy's) id is kept when it looks like an id, so one
// id follows the request through every hop; otherwise Portico makes one (ingress-nginx's $req_id).

import { randomUUID } from 'node:crypto';

/** Visible ASCII without spaces or quotes, at most 128 characters: safe in logs and headers. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._~:+/=@-]{1,128}$/;

export function requestIdFrom(header: string | readonly string[] | undefined): string {
  if (typeof header === 'string' && SANE_REQUEST_ID.test(header)) return header;
  return randomUUID();
}
