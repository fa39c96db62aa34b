// Cluster mode's source: one resilient watcher per resource (and per namespace when
// --watch-namespace narrows the scope) feeding the same sink as the manifest source. The
// sink is told it is synced only once every watcher has listed once, so the first table is
// never built from half a cluster.

import type { ClusterRecordKind } from '../model/records.ts';
import type { ClusterSink } from '../runtime/cluster-sink.ts';
import type { ClusterChange } from '../store/cluster-snapshot.ts';
import type { KubeClient } from './kube-client.ts';
import { ResourceWatcher, type WatchedResource, type WatcherLogger } from './resource-watcher.ts';

export interface ClusterSourceOptions {
  readonly client: KubeClient;
  readonly sink: ClusterSink;
  readonly logger: WatcherLogger;
  /** empty: every namespace */
  readonly namespaces: readonly string[];
  /** `ns/name` of the Service whose address goes into Ingress status (--publish-service), if consulted */
  readonly publishService?: string | undefined;
  readonly silenceDeadlineMs?: number;
}

interface ResourceType {
  readonly kind: ClusterRecordKind;
  readonly group: string;
  readonly plural: string;
  readonly namespaced: boolean;
  readonly fieldSelector?: string;
}

const RESOURCE_TYPES: readonly ResourceType[] = [
  { kind: 'IngressClass', group: 'networking.k8s.io/v1', plural: 'ingressclasses', namespaced: false },
  { kind: 'Ingress', group: 'networking.k8s.io/v1', plural: 'ingresses', namespaced: true },
  { kind: 'Service', group: '', plural: 'services', namespaced: true },
  { kind: 'EndpointSlice', group: 'discovery.k8s.io/v1', plural: 'endpointslices', namespaced: true },
  // TLS Secrets (spec.tls, --default-ssl-certificate, proxy-ssl-secret), and Opaque ones
  // (auth-secret, as `kubectl create secret generic` makes them), in watched namespaces only.
  // ingress-nginx watches every Secret; the field selectors leave out the largest and most
  // numerous kinds Portico never reads (Helm releases, service-account tokens, registry
  // credentials), and normalization keeps only the Opaque keys it can use.
  { kind: 'Secret', group: '', plural: 'secrets', namespaced: true, fieldSelector: 'type=kubernetes.io/tls' },
  { kind: 'Secret', group: '', plural: 'secrets', namespaced: true, fieldSelector: 'type=Opaque' },
];

function collectionPath(type: ResourceType, namespace: string | undefined): string {
  const base = type.group === '' ? '/api/v1' : `/apis/${type.group}`;
  return namespace === undefined ? `${base}/${type.plural}` : `${base}/namespaces/${namespace}/${type.plural}`;
}

/**
 * Every collection to list and watch. With --watch-namespace, the --publish-service Service may
 * live in a namespace not watched (typically the controller's own): that one Service is watched
 * on its own, by name, so its address reaches Ingress status (ingress-nginx reads it with a
 * separate GET). A Service outside the watched namespaces routes nothing: Ingresses name
 * Services of their own namespace only.
 */
export function watchedResources(namespaces: readonly string[], publishService?: string): WatchedResource[] {
  const resources: WatchedResource[] = [];
  const [publishNamespace, publishName] = publishService?.split('/') ?? [];
  if (namespaces.length > 0 && publishNamespace && publishName && !namespaces.includes(publishNamespace)) {
    resources.push({
      kind: 'Service',
      path: `/api/v1/namespaces/${publishNamespace}/services`,
      fieldSelector: `metadata.name=${publishName}`,
    });
  }
  for (const type of RESOURCE_TYPES) {
    const scopes = !type.namespaced || namespaces.length === 0 ? [undefined] : namespaces;
    for (const namespace of scopes) {
      resources.push({
        kind: type.kind,
        path: collectionPath(type, namespace),
        ...(type.fieldSelector ? { fieldSelector: type.fieldSelector } : {}),
      });
    }
  }
  return resources;
}

export class ClusterSource {
  readonly #options: ClusterSourceOptions;
  readonly watchers: readonly ResourceWatcher[];

  constructor(options: ClusterSourceOptions) {
    this.#options = options;
    this.watchers = watchedResources(options.namespaces, options.publishService).map(
      (resource) =>
        new ResourceWatcher({
          client: options.client,
          resource,
          logger: options.logger,
          onChanges: (changes) => this.#apply(changes),
          ...(options.silenceDeadlineMs === undefined ? {} : { silenceDeadlineMs: options.silenceDeadlineMs }),
        }),
    );
  }

  #apply(changes: readonly ClusterChange[]): void {
    this.#options.sink.applyChanges(changes);
  }

  /** Starts every watcher; resolves once all have listed once (and the sink was told). */
  async start(): Promise<void> {
    for (const watcher of this.watchers) watcher.start();
    await Promise.all(this.watchers.map((watcher) => watcher.synced));
    this.#options.logger.info({ watchers: this.watchers.length }, 'every resource listed once');
    this.#options.sink.markSynced();
  }

  stop(): void {
    for (const watcher of this.watchers) watcher.stop();
  }
}
