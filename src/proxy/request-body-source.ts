// The client's request body as undici's body: an async iterator that reads the IncomingMessage
// only when undici asks for the next chunk. That gives three things a plain stream would not:
// - backpressure end to end (nothing is read from the client before the upstream takes it);
// - `started` tells whether any byte may have left, which decides if a retry is allowed;
// - a failed attempt detaches without destroying the request, so the client still gets a 502.
// It also enforces the send timeout (a chunk the upstream does not accept within `sendMs`) and
// says when Portico is waiting on the client, for the client idle timeout: time spent waiting
// on a slow upstream is never counted against the client.

import type { IncomingMessage } from 'node:http';
import { UpstreamError } from '../upstream/upstream-error-status.ts';

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

interface PendingRead {
  resolve(result: IteratorResult<Buffer, undefined>): void;
  reject(error: Error): void;
}

export class RequestBodySource implements AsyncIterableIterator<Buffer, undefined> {
  readonly #req: IncomingMessage;
  readonly #sendTimeoutMs: number;
  readonly #now: () => number;
  readonly #onSendTimeout: (error: UpstreamError) => void;
  readonly #onClientWait: (waiting: boolean) => void;
  /** `proxy-body-size`: past it the body is cut and `onTooLarge` decides the answer */
  readonly #maxBytes: number | undefined;
  readonly #onTooLarge: () => void;
  #started = false;
  /** undici asked for a chunk and the client has not sent it yet */
  #waitingOnClient = false;
  #ended = false;
  #detached = false;
  #error: Error | undefined;
  #bytes = 0;
  #pending: PendingRead | undefined;
  /** since when the upstream holds a chunk without asking for the next one */
  #heldSince: number | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    req: IncomingMessage,
    sendTimeoutMs: number,
    now: () => number,
    onSendTimeout: (error: UpstreamError) => void,
    onClientWait: (waiting: boolean) => void = () => {},
    maxBytes: number | undefined = undefined,
    onTooLarge: () => void = () => {},
  ) {
    this.#maxBytes = maxBytes;
    this.#onTooLarge = onTooLarge;
    this.#req = req;
    this.#sendTimeoutMs = sendTimeoutMs;
    this.#now = now;
    this.#onSendTimeout = onSendTimeout;
    this.#onClientWait = onClientWait;
  }

  /** whether undici has asked for a chunk: from then on the body cannot be replayed */
  get started(): boolean {
    return this.#started;
  }

  get bytes(): number {
    return this.#bytes;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Buffer, undefined>> {
    if (!this.#started) {
      this.#started = true;
      this.#req.on('readable', this.#pump);
      this.#req.on('end', this.#onEnd);
      this.#req.on('error', this.#onError);
      this.#req.on('close', this.#onClose);
    }
    this.#heldSince = undefined;
    if (this.#detached || (this.#ended && this.#req.readableLength === 0)) return Promise.resolve(DONE);
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#pump();
    });
  }

  return(): Promise<IteratorResult<Buffer, undefined>> {
    this.detach();
    return Promise.resolve(DONE);
  }

  /** Stops feeding undici and lets go of the request without destroying it. Idempotent. */
  detach(): void {
    if (this.#detached) return;
    this.#detached = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#started) {
      this.#req.off('readable', this.#pump);
      this.#req.off('end', this.#onEnd);
      this.#req.off('error', this.#onError);
      this.#req.off('close', this.#onClose);
    }
    const pending = this.#pending;
    this.#pending = undefined;
    this.#setWaitingOnClient(false);
    pending?.resolve(DONE);
  }

  #setWaitingOnClient(waiting: boolean): void {
    if (this.#waitingOnClient === waiting) return;
    this.#waitingOnClient = waiting;
    this.#onClientWait(waiting);
  }

  readonly #pump = (): void => {
    const pending = this.#pending;
    if (pending === undefined) return;
    if (this.#error) {
      this.#pending = undefined;
      this.#setWaitingOnClient(false);
      pending.reject(this.#error);
      return;
    }
    const chunk = this.#req.read() as Buffer | null;
    if (chunk !== null) {
      this.#pending = undefined;
      this.#setWaitingOnClient(false);
      this.#bytes += chunk.length;
      if (this.#maxBytes !== undefined && this.#bytes > this.#maxBytes) {
        // Not one byte past the limit goes upstream: the caller aborts the attempt.
        this.#error ??= new UpstreamError('PORTICO_ERR_CLIENT_ABORTED', 'request body over proxy-body-size');
        pending.reject(this.#error);
        this.#onTooLarge();
        return;
      }
      this.#hold();
      pending.resolve({ value: chunk, done: false });
    } else if (this.#ended) {
      this.#pending = undefined;
      this.#setWaitingOnClient(false);
      clearTimeout(this.#timer);
      this.#timer = undefined;
      pending.resolve(DONE);
    } else {
      this.#setWaitingOnClient(true);
    }
  };

  readonly #onEnd = (): void => {
    this.#ended = true;
    this.#pump();
  };

  readonly #onError = (error: Error): void => {
    this.#error ??= error;
    this.#pump();
  };

  readonly #onClose = (): void => {
    if (!this.#ended) {
      this.#error ??= new UpstreamError('PORTICO_ERR_CLIENT_ABORTED', 'client closed the request body early');
      this.#pump();
    }
  };

  #hold(): void {
    this.#heldSince = this.#now();
    if (this.#timer === undefined && this.#sendTimeoutMs > 0) {
      this.#timer = setTimeout(this.#checkHold, this.#sendTimeoutMs);
    }
  }

  // One lazy timer per body rather than one per chunk: it re-arms for the remainder only
  // while a chunk is still held, and stays off while Portico waits on the client.
  readonly #checkHold = (): void => {
    this.#timer = undefined;
    const since = this.#heldSince;
    if (this.#detached || since === undefined) return;
    const held = this.#now() - since;
    if (held >= this.#sendTimeoutMs) {
      this.#onSendTimeout(
        new UpstreamError('PORTICO_ERR_UPSTREAM_SEND_TIMEOUT', `upstream accepted no body data for ${held} ms`),
      );
    } else {
      this.#timer = setTimeout(this.#checkHold, this.#sendTimeoutMs - held);
    }
  };
}
