// bcrypt checks off the event loop, with a bound. bcrypt is slow by design (cost 10 is tens of
// milliseconds of pure JavaScript per check); run on the proxy's thread, a stream of wrong
// passwords would stall every other request. So checks go to one worker thread, one at a time,
// and at most MAX_QUEUED_CHECKS wait: past that `verify` answers 'busy' at once (the caller
// answers 503) instead of queueing work without end. One thread means an attacker can keep
// at most one core busy with bcrypt whatever the request rate; successful checks are cached by
// the caller, so a keep-alive client with the right password pays once per secret generation.

import { Worker } from 'node:worker_threads';

export type BcryptOutcome = 'match' | 'mismatch' | 'busy';

export const MAX_QUEUED_CHECKS = 64;

interface Pending {
  readonly resolve: (outcome: BcryptOutcome) => void;
}

export class BcryptVerifier {
  readonly #maxQueued: number;
  #worker: Worker | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;

  constructor(options: { readonly maxQueued?: number } = {}) {
    this.#maxQueued = options.maxQueued ?? MAX_QUEUED_CHECKS;
  }

  /** checks in flight or waiting */
  get queued(): number {
    return this.#pending.size;
  }

  verify(password: string, hash: string): Promise<BcryptOutcome> {
    if (this.#pending.size >= this.#maxQueued) return Promise.resolve('busy');
    const worker = this.#start();
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pending.set(id, { resolve });
      worker.ref();
      worker.postMessage({ id, password, hash });
    });
  }

  close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    this.#failAll();
    return worker ? worker.terminate().then(() => undefined) : Promise.resolve();
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    // Runs from src/ (type stripping) and from dist/ after a build.
    const file = import.meta.url.endsWith('.ts') ? './bcrypt-worker.ts' : './bcrypt-worker.js';
    const worker = new Worker(new URL(file, import.meta.url));
    worker.on('message', (message: { id: number; ok: boolean }) => {
      const pending = this.#pending.get(message.id);
      if (!pending) return;
      this.#pending.delete(message.id);
      // An idle worker must not keep the process alive.
      if (this.#pending.size === 0) worker.unref();
      pending.resolve(message.ok ? 'match' : 'mismatch');
    });
    const lost = (): void => {
      if (this.#worker === worker) this.#worker = undefined;
      this.#failAll();
    };
    worker.on('error', lost);
    worker.on('exit', lost);
    worker.unref();
    this.#worker = worker;
    return worker;
  }

  /** A lost worker fails its checks closed: 'busy' answers 503, never a pass. */
  #failAll(): void {
    for (const pending of this.#pending.values()) pending.resolve('busy');
    this.#pending.clear();
  }
}
