// A list+watch loop for one resource that does not give up. client-node's informer stops on
// any non-410 error, can stall silently and hands out live cached objects; this one:
//   - relists on 410 Gone, and when the watch has been silent past a deadline (bookmarks
//     keep a healthy watch talking, so silence means a stalled stream);
//   - restarts after any other failure with jittered exponential backoff, resuming from the
//     last resourceVersion it saw;
//   - when RBAC denies the watch but allows the list, lists again every `deniedWatchPollMs`
//     (and tries the watch after each list), so a missing `watch` verb makes changes late
//     instead of never seen;
//   - converts every object to our frozen records here, at the edge, and emits changes only;
//   - catches every callback error, so a bad object or a bug downstream cannot stop the loop.

import type { ClusterRecord, ClusterRecordKind } from '../model/records.ts';
import { normalizeObject } from '../normalize/normalize-object.ts';
import { asArray, asObject, asString } from '../normalize/plain-json.ts';
import type { ClusterChange } from '../store/cluster-snapshot.ts';
import { type Backoff, createBackoff } from './backoff.ts';
import { KubeApiError, type KubeClient, type WatchEvent } from './kube-client.ts';

export interface WatchedResource {
  readonly kind: ClusterRecordKind;
  /** collection path, e.g. `/apis/networking.k8s.io/v1/ingresses` or a namespaced one */
  readonly path: string;
  readonly fieldSelector?: string;
  readonly labelSelector?: string;
}

export interface WatcherLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  debug(object: object, message: string): void;
}

export interface ResourceWatcherOptions {
  readonly client: KubeClient;
  readonly resource: WatchedResource;
  /** a batch of changes: the whole difference after a (re)list, or one watch event */
  readonly onChanges: (changes: readonly ClusterChange[]) => void;
  readonly logger: WatcherLogger;
  /** a watch silent this long is presumed stalled and replaced by a relist */
  readonly silenceDeadlineMs?: number;
  /** server-side watch lifetime, jittered so replicas do not reconnect together */
  readonly watchTimeoutSeconds?: number;
  readonly pageSize?: number;
  readonly backoff?: Backoff;
  /** how often to relist while RBAC denies the watch (default 10 s) */
  readonly deniedWatchPollMs?: number;
}

const DEFAULT_SILENCE_DEADLINE_MS = 90_000;
const DEFAULT_WATCH_TIMEOUT_SECONDS = 300;
const DEFAULT_PAGE_SIZE = 500;
/**
 * A watch that stayed open this long proved the API server healthy, so when it drops the retry
 * starts from the base delay instead of one grown by failures long past (after an outage the
 * delay has reached its 30 s ceiling, and a quiet watch sees no event that would reset it).
 * client-go's reflector likewise re-watches at once when an established stream ends. A watch
 * that drops right after connecting still backs off, so a flapping server is not hammered.
 */
const HEALTHY_WATCH_MS = 5_000;
/**
 * With `list` granted and `watch` denied, a relist this often keeps the table at most this stale.
 * Each is a full list (paged): cheap for the API server at this interval, unlike the 0.5 s a
 * reset backoff would give after every successful list.
 */
const DEFAULT_DENIED_WATCH_POLL_MS = 10_000;

type Known = { readonly resourceVersion: string | undefined };

function keyOf(kind: ClusterRecordKind, object: unknown): string | undefined {
  const metadata = asObject(asObject(object)?.metadata);
  const name = asString(metadata?.name);
  if (!name) return undefined;
  return kind === 'IngressClass' ? name : `${asString(metadata?.namespace) ?? 'default'}/${name}`;
}

function resourceVersionOf(object: unknown): string | undefined {
  return asString(asObject(asObject(object)?.metadata)?.resourceVersion);
}

export class ResourceWatcher {
  readonly #options: ResourceWatcherOptions;
  readonly #backoff: Backoff;
  readonly #known = new Map<string, Known>();
  #resourceVersion: string | undefined;
  #abort: AbortController | undefined;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #synced = false;
  #resolveSynced: () => void = () => {};
  /** resolves after the first full list has been delivered */
  readonly synced: Promise<void>;
  /** counts, for logs and tests */
  readonly stats = { lists: 0, watches: 0, gone: 0, silences: 0, failures: 0 };

  constructor(options: ResourceWatcherOptions) {
    this.#options = options;
    this.#backoff = options.backoff ?? createBackoff(500, 30_000);
    this.synced = new Promise((resolve) => {
      this.#resolveSynced = resolve;
    });
  }

  get isSynced(): boolean {
    return this.#synced;
  }

  start(): void {
    this.#schedule(() => this.#list(), 0);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#abort?.abort();
  }

  #schedule(step: () => Promise<void>, delayMs: number): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      step().catch((error: unknown) => this.#fail('loop step failed', error, () => this.#list()));
    }, delayMs);
  }

  #fail(what: string, error: unknown, retry: () => Promise<void>): void {
    if (this.#stopped) return;
    this.stats.failures++;
    const delay = this.#backoff.next();
    this.#options.logger.warn(
      { resource: this.#options.resource.path, err: describeError(error), retryInMs: delay },
      `${what}; retrying`,
    );
    this.#schedule(retry, delay);
  }

  #deliver(changes: readonly ClusterChange[]): void {
    if (changes.length === 0) return;
    try {
      this.#options.onChanges(changes);
    } catch (error) {
      this.#options.logger.warn(
        { resource: this.#options.resource.path, err: describeError(error) },
        'change handler failed',
      );
    }
  }

  #toRecord(object: unknown): ClusterRecord | undefined {
    const normalized = normalizeObject({ ...asObject(object), kind: this.#options.resource.kind });
    if (normalized.ok) return normalized.record;
    this.#options.logger.warn({ resource: this.#options.resource.path, error: normalized.error }, 'object skipped');
    return undefined;
  }

  async #list(): Promise<void> {
    if (this.#stopped) return;
    const { client, resource } = this.#options;
    const items: unknown[] = [];
    let continueToken: string | undefined;
    let resourceVersion: string | undefined;
    try {
      do {
        const query = new URLSearchParams({ limit: String(this.#options.pageSize ?? DEFAULT_PAGE_SIZE) });
        if (resource.fieldSelector) query.set('fieldSelector', resource.fieldSelector);
        if (resource.labelSelector) query.set('labelSelector', resource.labelSelector);
        if (continueToken) query.set('continue', continueToken);
        const page = asObject(await client.request('GET', `${resource.path}?${query}`));
        items.push(...asArray(page?.items));
        const metadata = asObject(page?.metadata);
        continueToken = asString(metadata?.continue) || undefined;
        resourceVersion = asString(metadata?.resourceVersion);
      } while (continueToken && !this.#stopped);
    } catch (error) {
      this.#fail(failureMessage('list', resource, error), error, () => this.#list());
      return;
    }
    this.stats.lists++;
    const changes: ClusterChange[] = [];
    const seen = new Set<string>();
    for (const item of items) {
      const key = keyOf(resource.kind, item);
      if (!key) continue;
      seen.add(key);
      const itemVersion = resourceVersionOf(item);
      const known = this.#known.get(key);
      if (known && itemVersion !== undefined && known.resourceVersion === itemVersion) continue;
      const record = this.#toRecord(item);
      if (!record) continue;
      this.#known.set(key, { resourceVersion: itemVersion });
      changes.push({ type: 'upsert', record });
    }
    // What vanished while we were not watching (a relist after 410 or an outage).
    for (const key of [...this.#known.keys()]) {
      if (!seen.has(key)) {
        this.#known.delete(key);
        changes.push({ type: 'delete', kind: resource.kind, key });
      }
    }
    this.#resourceVersion = resourceVersion;
    this.#deliver(changes);
    this.#backoff.reset();
    if (!this.#synced) {
      this.#synced = true;
      this.#resolveSynced();
    }
    await this.#watch();
  }

  async #watch(): Promise<void> {
    if (this.#stopped) return;
    const { client, resource } = this.#options;
    const baseTimeout = this.#options.watchTimeoutSeconds ?? DEFAULT_WATCH_TIMEOUT_SECONDS;
    let outcome: 'relist' | 'rewatch' | undefined;
    const onEvent = (event: WatchEvent) => {
      try {
        this.#handleEvent(event, (next) => {
          outcome = next;
          this.#abort?.abort();
        });
      } catch (error) {
        this.#options.logger.warn({ resource: resource.path, err: describeError(error) }, 'watch event skipped');
      }
    };
    const openedAt = Date.now();
    const onDone = (error: unknown) => {
      if (this.#stopped) return;
      if (Date.now() - openedAt >= HEALTHY_WATCH_MS) this.#backoff.reset();
      if (outcome === 'relist') {
        this.#schedule(() => this.#list(), 0);
      } else if (isTimeout(error)) {
        this.stats.silences++;
        this.#options.logger.info({ resource: resource.path }, 'watch silent past its deadline; relisting');
        this.#schedule(() => this.#list(), 0);
      } else if (isGone(error)) {
        this.stats.gone++;
        this.#schedule(() => this.#list(), 0);
      } else if (statusCodeOf(error) === 403) {
        this.#pollWhileWatchDenied(error);
      } else if (error) {
        this.#fail(failureMessage('watch', resource, error), error, () => this.#watch());
      } else {
        // The server ended the watch at its timeout: resume from where we are.
        this.#schedule(() => this.#watch(), 0);
      }
    };
    this.stats.watches++;
    this.#abort = await client.watch(
      resource.path,
      {
        allowWatchBookmarks: true,
        resourceVersion: this.#resourceVersion,
        timeoutSeconds: Math.round(baseTimeout * (0.8 + Math.random() * 0.4)),
        fieldSelector: resource.fieldSelector,
        labelSelector: resource.labelSelector,
      },
      onEvent,
      onDone,
      this.#options.silenceDeadlineMs ?? DEFAULT_SILENCE_DEADLINE_MS,
    );
  }

  #pollWhileWatchDenied(error: unknown): void {
    const { resource, logger } = this.#options;
    const pollMs = this.#options.deniedWatchPollMs ?? DEFAULT_DENIED_WATCH_POLL_MS;
    this.stats.failures++;
    logger.warn(
      { resource: resource.path, err: describeError(error), relistInMs: pollMs },
      `${failureMessage('watch', resource, error)}; listing every ${pollMs / 1000} s instead`,
    );
    this.#schedule(() => this.#list(), pollMs);
  }

  #handleEvent(event: WatchEvent, end: (next: 'relist' | 'rewatch') => void): void {
    const { resource } = this.#options;
    const version = resourceVersionOf(event.object);
    if (event.type === 'BOOKMARK') {
      if (version) this.#resourceVersion = version;
      return;
    }
    if (event.type === 'ERROR') {
      const status = asObject(event.object);
      if (status?.code === 410) {
        this.stats.gone++;
        this.#options.logger.info({ resource: resource.path }, 'watch expired (410 Gone); relisting');
        end('relist');
      } else {
        this.#options.logger.warn({ resource: resource.path, status }, 'watch error event; relisting');
        end('relist');
      }
      return;
    }
    this.#backoff.reset();
    if (version) this.#resourceVersion = version;
    const key = keyOf(resource.kind, event.object);
    if (!key) return;
    if (event.type === 'DELETED') {
      if (this.#known.delete(key)) this.#deliver([{ type: 'delete', kind: resource.kind, key }]);
      return;
    }
    if (event.type === 'ADDED' || event.type === 'MODIFIED') {
      const record = this.#toRecord(event.object);
      if (!record) return;
      this.#known.set(key, { resourceVersion: version });
      this.#deliver([{ type: 'upsert', record }]);
    }
  }
}

function statusCodeOf(error: unknown): number | undefined {
  if (error instanceof KubeApiError) return error.statusCode;
  const statusCode = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof statusCode === 'number' ? statusCode : undefined;
}

const COLLECTION_PATH = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)\/(?:namespaces\/([^/]+)\/)?([^/?]+)$/;

/** `networking.k8s.io ingresses (all namespaces)`, `core secrets in namespace team-a`: as RBAC rules name them */
export function describeCollection(path: string): string {
  const match = COLLECTION_PATH.exec(path);
  if (!match) return path;
  const [, group, namespace, plural] = match;
  return `${group ?? 'core'} ${plural} ${namespace === undefined ? '(all namespaces)' : `in namespace ${namespace}`}`;
}

/**
 * The log message for a failed list or watch. A 403 is a missing RBAC rule, which retrying will
 * not fix until someone grants it, so the message says which verb on which resource to grant.
 */
function failureMessage(verb: 'list' | 'watch', resource: WatchedResource, error: unknown): string {
  return statusCodeOf(error) === 403
    ? `${verb} failed: RBAC denies ${verb} on ${describeCollection(resource.path)}`
    : `${verb} failed`;
}

function isTimeout(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error.name === 'TimeoutError' || error.name === 'AbortError') &&
    /timeout/i.test(error.message)
  );
}

function isGone(error: unknown): boolean {
  return statusCodeOf(error) === 410;
}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
  }
  return String(error);
}
