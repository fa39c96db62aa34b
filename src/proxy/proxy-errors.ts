// Every error Portico answers with, in one table: stable code → HTTP status (ARCHITECTURE.md
// convention 4). Bodies are short plain text naming the code and the request id, so a user
// can quote both and an operator can find the access-log line.

import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { UPSTREAM_FAILURES, type UpstreamErrorCode } from '../upstream/upstream-error-status.ts';

const FRONT_ERRORS = {
  PORTICO_ERR_BAD_REQUEST: 400,
  /** `auth-type: basic`: no or wrong credentials (sent with WWW-Authenticate) */
  PORTICO_ERR_UNAUTHORIZED: 401,
  /** the client address is outside `allowlist-source-range` or inside `denylist-source-range` */
  PORTICO_ERR_FORBIDDEN: 403,
  PORTICO_ERR_NO_ROUTE: 404,
  PORTICO_ERR_METHOD_NOT_ALLOWED: 405,
  PORTICO_ERR_REQUEST_TIMEOUT: 408,
  /** request body over the route's `proxy-body-size` */
  PORTICO_ERR_BODY_TOO_LARGE: 413,
  PORTICO_ERR_HEADERS_TOO_LARGE: 431,
  PORTICO_ERR_INTERNAL: 500,
  /** missing Service or port, resource backend (ROUTING.md section 6) */
  PORTICO_ERR_BACKEND_UNAVAILABLE: 503,
  PORTICO_ERR_NO_ENDPOINTS: 503,
  /** over the route's `limit-rps` / `limit-rpm` (the status is --limit-status-code, 503 by default) */
  PORTICO_ERR_RATE_LIMITED: 503,
  /** over the route's `limit-connections` (the status is --limit-status-code, 503 by default) */
  PORTICO_ERR_TOO_MANY_CONNECTIONS: 503,
  /** the route asks for authentication Portico cannot set up (missing or bad Secret, auth-url) */
  PORTICO_ERR_AUTH_UNAVAILABLE: 503,
  /** too many bcrypt checks waiting (src/auth/bcrypt-verifier.ts) */
  PORTICO_ERR_AUTH_BUSY: 503,
} as const;

export type FrontErrorCode = keyof typeof FRONT_ERRORS;
export type PorticoErrorCode = FrontErrorCode | UpstreamErrorCode;

export function statusOfError(code: PorticoErrorCode): number {
  return code in FRONT_ERRORS
    ? FRONT_ERRORS[code as FrontErrorCode]
    : UPSTREAM_FAILURES[code as UpstreamErrorCode].status;
}

export function errorBody(status: number, code: PorticoErrorCode, requestId: string): string {
  return `${status} ${STATUS_CODES[status] ?? 'Error'}\ncode: ${code}\nrequest-id: ${requestId}\n`;
}

/** A status answered for the upstream (custom-http-errors without an error backend): no error code. */
export function statusBody(status: number, requestId: string): string {
  return `${status} ${STATUS_CODES[status] ?? 'Error'}\nrequest-id: ${requestId}\n`;
}

/** For sockets with no ServerResponse: client errors and refused upgrades. */
export function rawErrorResponse(
  code: PorticoErrorCode,
  requestId: string,
  status = statusOfError(code),
  wwwAuthenticate?: string,
): string {
  const body = errorBody(status, code, requestId);
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
    (wwwAuthenticate === undefined ? '' : `WWW-Authenticate: ${wwwAuthenticate}\r\n`) +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    `X-Request-ID: ${requestId}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  );
}

/** Writes a raw response and closes, unless a response is already going out on the socket. */
export function endSocketWithError(socket: Socket, code: PorticoErrorCode, requestId: string): boolean {
  // Node's own clientError fallback checks the same thing: a pipelined response in progress
  // must not get a second status line in the middle of it.
  const inProgress = Reflect.get(socket, '_httpMessage') as { headersSent?: boolean } | null | undefined;
  if (!socket.writable || inProgress?.headersSent) {
    socket.destroy();
    return false;
  }
  socket.end(rawErrorResponse(code, requestId));
  return true;
}
