// Everything cluster mode adds around the control loop: the watchers feeding it, and (for
// the leader only) Ingress status and Events after every table swap. Kept here so main.ts
// stays wiring and nothing outside kube/ imports client-node.

import type { KubeSettings } from '../config/config.ts';
import type { ControlLoop } from '../runtime/control-loop.ts';
import { ClusterSource } from './cluster-source.ts';
import { EventRecorder } from './event-recorder.ts';
import { createKubeClient, loadKubeConfig } from './kube-client.ts';
import { LeaderLease } from './leader-lease.ts';
import type { WatcherLogger } from './resource-watcher.ts';
import { StatusWriter } from './status-writer.ts';

export interface ClusterMode {
  /** resolves once every resource has been listed once */
  start(): Promise<void>;
  stop(): Promise<void>;
  isLeader(): boolean;
}

export function createClusterMode(
  settings: KubeSettings,
  state: ControlLoop,
  logger: WatcherLogger,
  controllerClass: string,
): ClusterMode {
  const client = createKubeClient(loadKubeConfig(settings.kubeconfig));
  const source = new ClusterSource({
    client,
    sink: state,
    logger,
    namespaces: settings.watchNamespaces,
    // Read only when status is written and no --publish-status-address takes precedence.
    publishService:
      settings.updateStatus && settings.publishStatusAddresses.length === 0 ? settings.publishService : undefined,
  });
  let statusWriter: StatusWriter | undefined;
  let lastSwap: Parameters<Parameters<ControlLoop['onSwap']>[0]>[0] | undefined;
  const lease = new LeaderLease({
    client,
    namespace: settings.electionNamespace,
    name: settings.electionId,
    identity: settings.identity,
    logger,
    onStartedLeading: () => {
      events.reset();
      if (lastSwap) {
        statusWriter?.update(statusInputs(lastSwap));
        events.record(lastSwap.diagnostics, lastSwap.snapshot.ingresses);
      }
    },
  });
  const isLeader = () => lease.isLeader();
  const events = new EventRecorder({
    client,
    isLeader,
    logger,
    component: controllerClass,
    instance: settings.identity,
  });
  if (settings.updateStatus) {
    statusWriter = new StatusWriter({
      client,
      isLeader,
      logger,
      settings: { statusAddresses: settings.publishStatusAddresses, publishService: settings.publishService },
    });
  }
  const statusInputs = (swap: NonNullable<typeof lastSwap>) => ({
    ingresses: swap.snapshot.ingresses,
    services: swap.snapshot.services,
    servedIngresses: swap.table.servedIngresses,
  });
  state.onSwap((swap) => {
    lastSwap = swap;
    statusWriter?.update(statusInputs(swap));
    events.record(swap.diagnostics, swap.snapshot.ingresses);
  });
  return {
    async start() {
      lease.start();
      await source.start();
    },
    async stop() {
      source.stop();
      statusWriter?.stop();
      await lease.stop();
    },
    isLeader,
  };
}
