// The one place where a failure talking to an upstream becomes a stable Portico code, an HTTP
// status and a retry class. Callers branch on `code` and `phase`, never on messages
// (ARCHITECTURE.md convention 4). Codes come from undici (`UND_ERR_*`), Node's net layer
// (`ECONNREFUSED`...), llhttp (`HPE_*`) and our own guards (`PORTICO_ERR_*`).

import type { RetryCondition } from '../routing/next-upstream.ts';

export type UpstreamErrorCode =
  | 'PORTICO_ERR_UPSTREAM_REFUSED'
  | 'PORTICO_ERR_UPSTREAM_UNREACHABLE'
  | 'PORTICO_ERR_UPSTREAM_CONNECT_TIMEOUT'
  | 'PORTICO_ERR_UPSTREAM_DNS'
  | 'PORTICO_ERR_UPSTREAM_ADDRESS_FORBIDDEN'
  | 'PORTICO_ERR_UPSTREAM_CLOSED'
  | 'PORTICO_ERR_UPSTREAM_RESET'
  | 'PORTICO_ERR_UPSTREAM_READ_TIMEOUT'
  | 'PORTICO_ERR_UPSTREAM_SEND_TIMEOUT'
  | 'PORTICO_ERR_UPSTREAM_BAD_RESPONSE'
  | 'PORTICO_ERR_CLIENT_ABORTED'
  | 'PORTICO_ERR_UPSTREAM_FAILED';

/**
 * `connect`: the failure happened before a connection existed, so no request byte left
 * Portico and any method may be retried elsewhere. `exchange`: bytes may have been sent.
 */
export type UpstreamFailurePhase = 'connect' | 'exchange';

export interface UpstreamFailure {
  readonly code: UpstreamErrorCode;
  readonly status: 499 | 502 | 503 | 504;
  readonly phase: UpstreamFailurePhase;
  /** the `proxy-next-upstream` condition this falls under; undefined: never retried */
  readonly retryOn: RetryCondition | undefined;
  /** short label for `portico_upstream_connect_errors_total{reason}` and logs */
  readonly reason: string;
}

interface FailureRow {
  readonly status: UpstreamFailure['status'];
  readonly phase: UpstreamFailurePhase;
  readonly retryOn: RetryCondition | undefined;
  readonly reason: string;
}

/** The catalogue: every upstream code with its status, phase and `proxy-next-upstream` condition. */
export const UPSTREAM_FAILURES: Readonly<Record<UpstreamErrorCode, FailureRow>> = {
  PORTICO_ERR_UPSTREAM_REFUSED: { status: 502, phase: 'connect', retryOn: 'error', reason: 'refused' },
  PORTICO_ERR_UPSTREAM_UNREACHABLE: { status: 502, phase: 'connect', retryOn: 'error', reason: 'unreachable' },
  // Nothing was sent, so trying another endpoint is safe; if that fails too the answer is 504.
  PORTICO_ERR_UPSTREAM_CONNECT_TIMEOUT: {
    status: 504,
    phase: 'connect',
    retryOn: 'connect-timeout',
    reason: 'timeout',
  },
  PORTICO_ERR_UPSTREAM_DNS: { status: 502, phase: 'connect', retryOn: undefined, reason: 'dns' },
  PORTICO_ERR_UPSTREAM_ADDRESS_FORBIDDEN: { status: 502, phase: 'connect', retryOn: undefined, reason: 'forbidden' },
  // The pool was closed under the request (endpoint removed): nothing was written.
  PORTICO_ERR_UPSTREAM_CLOSED: { status: 503, phase: 'connect', retryOn: 'error', reason: 'closed' },
  PORTICO_ERR_UPSTREAM_RESET: { status: 502, phase: 'exchange', retryOn: 'error', reason: 'reset' },
  PORTICO_ERR_UPSTREAM_READ_TIMEOUT: {
    status: 504,
    phase: 'exchange',
    retryOn: 'exchange-timeout',
    reason: 'read-timeout',
  },
  PORTICO_ERR_UPSTREAM_SEND_TIMEOUT: {
    status: 504,
    phase: 'exchange',
    retryOn: 'exchange-timeout',
    reason: 'send-timeout',
  },
  PORTICO_ERR_UPSTREAM_BAD_RESPONSE: {
    status: 502,
    phase: 'exchange',
    retryOn: 'invalid-header',
    reason: 'bad-response',
  },
  // nginx's 499: the client went away first; nobody sees this status, the log does.
  PORTICO_ERR_CLIENT_ABORTED: { status: 499, phase: 'exchange', retryOn: undefined, reason: 'client-aborted' },
  PORTICO_ERR_UPSTREAM_FAILED: { status: 502, phase: 'exchange', retryOn: undefined, reason: 'other' },
};

const CODE_BY_CAUSE: Readonly<Record<string, UpstreamErrorCode>> = {
  ECONNREFUSED: 'PORTICO_ERR_UPSTREAM_REFUSED',
  EHOSTUNREACH: 'PORTICO_ERR_UPSTREAM_UNREACHABLE',
  ENETUNREACH: 'PORTICO_ERR_UPSTREAM_UNREACHABLE',
  EHOSTDOWN: 'PORTICO_ERR_UPSTREAM_UNREACHABLE',
  ENETDOWN: 'PORTICO_ERR_UPSTREAM_UNREACHABLE',
  EADDRNOTAVAIL: 'PORTICO_ERR_UPSTREAM_UNREACHABLE',
  UND_ERR_CONNECT_TIMEOUT: 'PORTICO_ERR_UPSTREAM_CONNECT_TIMEOUT',
  ETIMEDOUT: 'PORTICO_ERR_UPSTREAM_CONNECT_TIMEOUT',
  ENOTFOUND: 'PORTICO_ERR_UPSTREAM_DNS',
  EAI_AGAIN: 'PORTICO_ERR_UPSTREAM_DNS',
  EAI_FAIL: 'PORTICO_ERR_UPSTREAM_DNS',
  EAI_NODATA: 'PORTICO_ERR_UPSTREAM_DNS',
  EAI_NONAME: 'PORTICO_ERR_UPSTREAM_DNS',
  ENODATA: 'PORTICO_ERR_UPSTREAM_DNS',
  UND_ERR_CLOSED: 'PORTICO_ERR_UPSTREAM_CLOSED',
  UND_ERR_DESTROYED: 'PORTICO_ERR_UPSTREAM_CLOSED',
  ECONNRESET: 'PORTICO_ERR_UPSTREAM_RESET',
  EPIPE: 'PORTICO_ERR_UPSTREAM_RESET',
  ECONNABORTED: 'PORTICO_ERR_UPSTREAM_RESET',
  UND_ERR_SOCKET: 'PORTICO_ERR_UPSTREAM_RESET',
  UND_ERR_HEADERS_TIMEOUT: 'PORTICO_ERR_UPSTREAM_READ_TIMEOUT',
  UND_ERR_BODY_TIMEOUT: 'PORTICO_ERR_UPSTREAM_READ_TIMEOUT',
  UND_ERR_HEADERS_OVERFLOW: 'PORTICO_ERR_UPSTREAM_BAD_RESPONSE',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'PORTICO_ERR_UPSTREAM_BAD_RESPONSE',
  UND_ERR_INFO: 'PORTICO_ERR_UPSTREAM_BAD_RESPONSE',
  UND_ERR_ABORTED: 'PORTICO_ERR_CLIENT_ABORTED',
  UND_ERR_ABORT: 'PORTICO_ERR_CLIENT_ABORTED',
  ABORT_ERR: 'PORTICO_ERR_CLIENT_ABORTED',
};

function isUpstreamErrorCode(code: string): code is UpstreamErrorCode {
  return Object.hasOwn(UPSTREAM_FAILURES, code);
}

/** The first recognisable code on the error, its `cause` chain, or an AggregateError's parts. */
function findCode(error: unknown, depth = 0): string | undefined {
  if (typeof error !== 'object' || error === null || depth > 4) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (isUpstreamErrorCode(code) || code in CODE_BY_CAUSE || code.startsWith('HPE_')))
    return code;
  // Happy eyeballs (autoSelectFamily) reports every attempt in one AggregateError.
  if (error instanceof AggregateError) {
    for (const part of error.errors) {
      const found = findCode(part, depth + 1);
      if (found) return found;
    }
  }
  return findCode((error as { cause?: unknown }).cause, depth + 1) ?? (typeof code === 'string' ? code : undefined);
}

/** Maps any error raised while forwarding to one upstream attempt. Never throws. */
export function classifyUpstreamError(error: unknown): UpstreamFailure {
  const raw = findCode(error);
  let code: UpstreamErrorCode = 'PORTICO_ERR_UPSTREAM_FAILED';
  if (raw !== undefined) {
    if (isUpstreamErrorCode(raw)) code = raw;
    else if (raw.startsWith('HPE_')) code = 'PORTICO_ERR_UPSTREAM_BAD_RESPONSE';
    else code = CODE_BY_CAUSE[raw] ?? 'PORTICO_ERR_UPSTREAM_FAILED';
  }
  return { code, ...UPSTREAM_FAILURES[code] };
}

/** An error carrying one of our codes, for failures Portico itself detects. */
export class UpstreamError extends Error {
  readonly code: UpstreamErrorCode;
  constructor(code: UpstreamErrorCode, message: string) {
    super(message);
    this.name = 'UpstreamError';
    this.code = code;
  }
}
