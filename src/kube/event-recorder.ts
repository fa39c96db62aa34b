// Compile diagnostics → Warning Events on the offending Ingress, readable in
// `kubectl describe ingress`. A diagnostic is reported once while it persists (again if it
// goes away and comes back), and a token bucket bounds the rate, so a broken cluster cannot
// flood the API server. Only the leader records, so replicas do not repeat each other.

import type { Diagnostic } from '../model/diagnostic.ts';
import type { IngressRecord } from '../model/records.ts';
import { KubeApiError, type KubeClient } from './kube-client.ts';
import { describeError, type WatcherLogger } from './resource-watcher.ts';

export interface EventRecorderOptions {
  readonly client: KubeClient;
  readonly isLeader: () => boolean;
  readonly logger: WatcherLogger;
  /** reportingController, e.g. portico.dev/ingress-controller */
  readonly component: string;
  readonly instance: string;
  readonly eventsPerSecond?: number;
  readonly burst?: number;
  readonly now?: () => number;
}

const INGRESS_OBJECT = /^Ingress ([^/\s]+)\/(\S+)$/;
const MAX_MESSAGE_LENGTH = 1024;

export class EventRecorder {
  readonly #options: EventRecorderOptions;
  readonly #now: () => number;
  /** diagnostics already reported and still present */
  #reported = new Set<string>();
  #tokens: number;
  #refilledAt: number;
  readonly stats = { recorded: 0, dropped: 0, failed: 0 };

  constructor(options: EventRecorderOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#tokens = options.burst ?? 25;
    this.#refilledAt = this.#now();
  }

  /** Forget what was reported (a new leader reports the current diagnostics afresh). */
  reset(): void {
    this.#reported = new Set();
  }

  record(diagnostics: readonly Diagnostic[], ingresses: ReadonlyMap<string, IngressRecord>): void {
    const current = new Set<string>();
    for (const diagnostic of diagnostics) {
      const key = `${diagnostic.object}\u0000${diagnostic.code}\u0000${diagnostic.reason}`;
      current.add(key);
      if (this.#reported.has(key) || !this.#options.isLeader()) continue;
      const target = INGRESS_OBJECT.exec(diagnostic.object);
      if (!target) continue;
      if (!this.#takeToken()) {
        this.stats.dropped++;
        continue;
      }
      this.#reported.add(key);
      const ingress = ingresses.get(`${target[1]}/${target[2]}`);
      void this.#create(target[1] as string, target[2] as string, ingress?.uid, diagnostic);
    }
    // Diagnostics that went away may be reported again if they return.
    for (const key of this.#reported) if (!current.has(key)) this.#reported.delete(key);
  }

  #takeToken(): boolean {
    const rate = this.#options.eventsPerSecond ?? 5;
    const burst = this.#options.burst ?? 25;
    const now = this.#now();
    this.#tokens = Math.min(burst, this.#tokens + ((now - this.#refilledAt) / 1000) * rate);
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  async #create(namespace: string, name: string, uid: string | undefined, diagnostic: Diagnostic): Promise<void> {
    const timestamp = new Date(this.#now()).toISOString();
    try {
      await this.#options.client.request('POST', `/api/v1/namespaces/${namespace}/events`, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${name}.`, namespace },
        involvedObject: {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'Ingress',
          namespace,
          name,
          ...(uid ? { uid } : {}),
        },
        type: 'Warning',
        reason: diagnostic.code,
        message: diagnostic.reason.slice(0, MAX_MESSAGE_LENGTH),
        source: { component: 'portico' },
        reportingComponent: this.#options.component,
        reportingInstance: this.#options.instance,
        firstTimestamp: timestamp,
        lastTimestamp: timestamp,
        count: 1,
      });
      this.stats.recorded++;
    } catch (error) {
      this.stats.failed++;
      const forbidden = error instanceof KubeApiError && error.statusCode === 403;
      this.#options.logger.warn(
        { ingress: `${namespace}/${name}`, err: describeError(error) },
        forbidden ? 'cannot record Event: RBAC denies create on events' : 'recording an Event failed',
      );
    }
  }
}
