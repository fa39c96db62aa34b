// Writes Ingress `status.loadBalancer.ingress` while we hold the lease. Runs are serialized
// and coalesced (a burst of table swaps makes one pass), and every single write re-checks the
// lease, so losing it stops writes at once.

import type { IngressRecord, ServiceRecord } from '../model/records.ts';
import { KubeApiError, type KubeClient } from './kube-client.ts';
import { describeError, type WatcherLogger } from './resource-watcher.ts';
import { type PublishSettings, planStatusUpdates, publishedAddresses, type StatusUpdate } from './status-plan.ts';

export interface StatusInputs {
  readonly ingresses: ReadonlyMap<string, IngressRecord>;
  readonly services: ReadonlyMap<string, ServiceRecord>;
  readonly servedIngresses: readonly string[];
}

export interface StatusWriterOptions {
  readonly client: KubeClient;
  readonly isLeader: () => boolean;
  readonly settings: PublishSettings;
  readonly logger: WatcherLogger;
  readonly retryDelayMs?: number;
}

export class StatusWriter {
  readonly #options: StatusWriterOptions;
  #latest: StatusInputs | undefined;
  #running = false;
  #again = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #warnedNoAddress = false;
  #stopped = false;
  /** writes done, for logs and tests */
  readonly stats = { written: 0, cleared: 0, failed: 0 };

  constructor(options: StatusWriterOptions) {
    this.#options = options;
  }

  /** Call after every table swap and whenever leadership is gained. */
  update(inputs?: StatusInputs): void {
    if (inputs) this.#latest = inputs;
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    this.#run()
      .catch((error: unknown) => this.#options.logger.warn({ err: describeError(error) }, 'status pass failed'))
      .finally(() => {
        this.#running = false;
        if (this.#again) {
          this.#again = false;
          this.update();
        }
      });
  }

  stop(): void {
    this.#stopped = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
  }

  async #run(): Promise<void> {
    const inputs = this.#latest;
    if (!inputs || !this.#options.isLeader()) return;
    const addresses = publishedAddresses(this.#options.settings, inputs.services);
    if (addresses.length === 0) {
      if (!this.#warnedNoAddress) {
        this.#warnedNoAddress = true;
        this.#options.logger.warn(
          { publishService: this.#options.settings.publishService },
          'no address to publish in Ingress status yet (set --publish-service or --publish-status-address)',
        );
      }
      return;
    }
    this.#warnedNoAddress = false;
    const plan = planStatusUpdates(inputs.ingresses, new Set(inputs.servedIngresses), addresses);
    let failed = false;
    for (const update of plan) {
      if (!this.#options.isLeader()) return;
      failed = !(await this.#write(update)) || failed;
    }
    if (failed) {
      if (this.#retryTimer) clearTimeout(this.#retryTimer);
      this.#retryTimer = setTimeout(() => this.update(), this.#options.retryDelayMs ?? 5_000);
    }
  }

  async #write(update: StatusUpdate): Promise<boolean> {
    const path = `/apis/networking.k8s.io/v1/namespaces/${update.namespace}/ingresses/${update.name}/status`;
    const ingress = update.addresses.map((address) => ({
      ...(address.ip ? { ip: address.ip } : {}),
      ...(address.hostname ? { hostname: address.hostname } : {}),
    }));
    try {
      await this.#options.client.request(
        'PATCH',
        path,
        { status: { loadBalancer: { ingress } } },
        'application/merge-patch+json',
      );
      if (ingress.length === 0) this.stats.cleared++;
      else this.stats.written++;
      this.#options.logger.info(
        { ingress: `${update.namespace}/${update.name}`, addresses: ingress },
        'ingress status updated',
      );
      return true;
    } catch (error) {
      if (error instanceof KubeApiError && error.statusCode === 404) return true;
      this.stats.failed++;
      const forbidden = error instanceof KubeApiError && error.statusCode === 403;
      this.#options.logger.warn(
        { ingress: `${update.namespace}/${update.name}`, err: describeError(error) },
        forbidden
          ? 'cannot write Ingress status: RBAC denies patch on networking.k8s.io ingresses/status'
          : 'ingress status update failed',
      );
      return false;
    }
  }
}
