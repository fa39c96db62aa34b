// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
// acquire when the lease is free or expired, renew well inside its duration, and stop
// believing we lead as soon as a renewal is overdue (before anyone else may take over), so
// a partitioned leader stops writing status at once. All replicas serve traffic regardless.

import { asInteger, asObject, asString } from '../normalize/plain-json.ts';
import { type HttpVerb, KubeApiError, type KubeClient } from './kube-client.ts';
import { describeError, type WatcherLogger } from './resource-watcher.ts';

export interface LeaderLeaseOptions {
  readonly client: KubeClient;
  readonly namespace: string;
  /** Lease name (ingress-nginx's --election-id) */
  readonly name: string;
  readonly identity: string;
  readonly logger: WatcherLogger;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  readonly onStartedLeading?: () => void;
  readonly onStoppedLeading?: () => void;
  readonly now?: () => number;
}

const DEFAULT_LEASE_DURATION_MS = 15_000;
const DEFAULT_RENEW_DEADLINE_MS = 10_000;
const DEFAULT_RETRY_PERIOD_MS = 2_000;

/** The verb RBAC checks for each request this class makes (GET is always on the named Lease). */
const RBAC_VERBS: Partial<Record<HttpVerb, string>> = { GET: 'get', POST: 'create', PUT: 'update' };

/** RFC 3339 with microseconds, the MicroTime format the Lease API expects. */
export function microTime(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderLease {
  readonly #options: LeaderLeaseOptions;
  readonly #now: () => number;
  #lastRenewedAt = Number.NEGATIVE_INFINITY;
  #holding = false;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: LeaderLeaseOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get #path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.#options.namespace}/leases`;
  }

  /** true only while a renewal has succeeded within the renew deadline */
  isLeader(): boolean {
    return (
      this.#holding && this.#now() - this.#lastRenewedAt < (this.#options.renewDeadlineMs ?? DEFAULT_RENEW_DEADLINE_MS)
    );
  }

  start(): void {
    this.#tick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#holding) {
      this.#setHolding(false);
      await this.#release().catch(() => {});
    }
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => this.#tick(), delayMs);
  }

  #tick(): void {
    this.#tryAcquireOrRenew()
      .catch((error: unknown) => {
        this.#options.logger.warn(
          { lease: this.#options.name, err: describeError(error) },
          this.#failureMessage(error),
        );
      })
      .finally(() => {
        // A missed renewal must cost us the lead before the lease can expire for others.
        if (this.#holding && !this.isLeader()) this.#setHolding(false);
        this.#schedule(this.#options.retryPeriodMs ?? DEFAULT_RETRY_PERIOD_MS);
      });
  }

  /** A 403 names the RBAC verb to grant: reading, creating and renewing the Lease are separate rules. */
  #failureMessage(error: unknown): string {
    if (!(error instanceof KubeApiError && error.statusCode === 403)) return 'lease update failed';
    const verb = error.method === undefined ? undefined : RBAC_VERBS[error.method];
    return `lease update failed: RBAC denies ${verb ?? 'access'} on coordination.k8s.io leases in namespace ${this.#options.namespace}`;
  }

  #setHolding(holding: boolean): void {
    if (this.#holding === holding) return;
    this.#holding = holding;
    this.#options.logger.info(
      { lease: this.#options.name, identity: this.#options.identity },
      holding ? 'became leader' : 'stopped leading',
    );
    try {
      if (holding) this.#options.onStartedLeading?.();
      else this.#options.onStoppedLeading?.();
    } catch (error) {
      this.#options.logger.warn({ err: describeError(error) }, 'leadership callback failed');
    }
  }

  async #tryAcquireOrRenew(): Promise<void> {
    const { client, name, namespace, identity } = this.#options;
    const durationMs = this.#options.leaseDurationMs ?? DEFAULT_LEASE_DURATION_MS;
    const now = this.#now();
    let current: Record<string, unknown> | undefined;
    try {
      current = asObject(await client.request('GET', `${this.#path}/${name}`)) as Record<string, unknown> | undefined;
    } catch (error) {
      if (!(error instanceof KubeApiError && error.statusCode === 404)) throw error;
    }
    const spec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(durationMs / 1000),
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseTransitions: 0,
    };
    if (!current) {
      await client.request('POST', this.#path, {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace },
        spec,
      });
      this.#renewed(now);
      return;
    }
    const currentSpec = asObject(current.spec) ?? {};
    const holder = asString(currentSpec.holderIdentity);
    const renewTime = Date.parse(asString(currentSpec.renewTime) ?? '');
    const leaseSeconds = asInteger(currentSpec.leaseDurationSeconds) ?? Math.ceil(durationMs / 1000);
    const expired = Number.isNaN(renewTime) || renewTime + leaseSeconds * 1000 < now;
    if (holder && holder !== identity && !expired) {
      if (this.#holding) this.#setHolding(false);
      return;
    }
    const transitions = asInteger(currentSpec.leaseTransitions) ?? 0;
    const takingOver = holder !== identity;
    // PUT with the resourceVersion we read: if another replica wrote in between, we get 409.
    await client.request('PUT', `${this.#path}/${name}`, {
      ...current,
      spec: {
        ...currentSpec,
        holderIdentity: identity,
        leaseDurationSeconds: Math.ceil(durationMs / 1000),
        renewTime: microTime(now),
        ...(takingOver ? { acquireTime: microTime(now), leaseTransitions: transitions + 1 } : {}),
      },
    });
    this.#renewed(now);
  }

  #renewed(at: number): void {
    this.#lastRenewedAt = at;
    this.#setHolding(true);
  }

  /** Hand the lease over at shutdown instead of making the next leader wait for expiry. */
  async #release(): Promise<void> {
    const { client, name, identity } = this.#options;
    const current = asObject(await client.request('GET', `${this.#path}/${name}`));
    const spec = asObject(current?.spec);
    if (!current || asString(spec?.holderIdentity) !== identity) return;
    await client.request('PUT', `${this.#path}/${name}`, {
      ...current,
      spec: { ...spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(this.#now()) },
    });
  }
}
