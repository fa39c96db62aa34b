// When a failed attempt moves on to another endpoint: ingress-nginx's `proxy-next-upstream`,
// `-tries` and `-timeout` (nginx `proxy_next_upstream*`), as data plus the pure checks the
// proxy asks. What the checks cannot see, the proxy adds: nothing goes to another endpoint
// once a response byte reached the client, or once any of a request body was read (it cannot
// be replayed).

/** Which nginx condition a failed attempt falls under; undefined: never retried. */
export type RetryCondition = 'error' | 'connect-timeout' | 'exchange-timeout' | 'invalid-header';

/** The `proxy-next-upstream` tokens. */
export interface NextUpstreamConditions {
  /** refused, unreachable, reset before the response headers (nginx `error`) */
  readonly error: boolean;
  /** connect timeout (part of nginx `timeout`) */
  readonly connectTimeout: boolean;
  /** read timeout to the response headers, send timeout (the rest of nginx `timeout`) */
  readonly exchangeTimeout: boolean;
  /** an unparsable response head (nginx `invalid_header`) */
  readonly invalidHeader: boolean;
  /** response statuses that go to another endpoint (nginx `http_500` ...) */
  readonly statuses: readonly number[];
  /** POST, PATCH... too, even after the request was sent (nginx `non_idempotent`) */
  readonly nonIdempotent: boolean;
}

export interface NextUpstreamPolicy {
  readonly on: NextUpstreamConditions;
  /** attempts in all, the first included; 0: as many as there are ready endpoints */
  readonly tries: number;
  /** no new attempt once this long has passed since the request arrived; 0: no limit */
  readonly timeoutMs: number;
}

export const NO_RETRY_CONDITIONS: NextUpstreamConditions = Object.freeze({
  error: false,
  connectTimeout: false,
  exchangeTimeout: false,
  invalidHeader: false,
  statuses: Object.freeze([]),
  nonIdempotent: false,
});

/**
 * Portico's default, for routes without the annotations: nginx `error` plus the connect
 * timeout, 3 tries (ingress-nginx's count). Not ingress-nginx's `error timeout`: a read timeout
 * retried elsewhere doubles an already long wait and replays work the first endpoint may have
 * done, so it is opt-in (`timeout`).
 */
export const DEFAULT_NEXT_UPSTREAM: NextUpstreamPolicy = Object.freeze({
  on: Object.freeze({ ...NO_RETRY_CONDITIONS, error: true, connectTimeout: true }),
  tries: 3,
  timeoutMs: 0,
});

/** RFC 9110 section 9.2.2; a retry of these cannot change the outcome. */
const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

export interface RetryState {
  /** attempts made so far, the failed one included */
  readonly attempts: number;
  /** since the request arrived */
  readonly elapsedMs: number;
  readonly method: string;
  /** some of the request may have reached the failed endpoint */
  readonly requestSent: boolean;
}

function withinBudget(policy: NextUpstreamPolicy, state: RetryState): boolean {
  if (policy.tries !== 0 && state.attempts >= policy.tries) return false;
  if (policy.timeoutMs !== 0 && state.elapsedMs >= policy.timeoutMs) return false;
  // nginx retries a request that may have reached the upstream only when it is idempotent.
  return !state.requestSent || policy.on.nonIdempotent || IDEMPOTENT_METHODS.has(state.method);
}

/** Whether a failure (no response head accepted) may go to another endpoint. */
export function mayRetryFailure(
  policy: NextUpstreamPolicy,
  condition: RetryCondition | undefined,
  state: RetryState,
): boolean {
  if (condition === undefined) return false;
  const on = policy.on;
  const listed =
    condition === 'error'
      ? on.error
      : condition === 'connect-timeout'
        ? on.connectTimeout
        : condition === 'exchange-timeout'
          ? on.exchangeTimeout
          : on.invalidHeader;
  return listed && withinBudget(policy, state);
}

/** Whether a response with `status` is dropped and the request sent to another endpoint. */
export function mayRetryStatus(policy: NextUpstreamPolicy, status: number, state: RetryState): boolean {
  return policy.on.statuses.includes(status) && withinBudget(policy, { ...state, requestSent: true });
}
