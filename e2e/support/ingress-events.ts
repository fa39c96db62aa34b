// The Events recorded on one Ingress, as `kubectl describe ingress` finds them.

import type { ControlPlane } from '../harness/control-plane.ts';

export interface KubeEvent {
  readonly type: string;
  readonly reason: string;
  readonly message: string;
  readonly count?: number;
}

export async function ingressEvents(controlPlane: ControlPlane, namespace: string, name: string): Promise<KubeEvent[]> {
  const result = await controlPlane.kubectl([
    'get',
    'events',
    '-n',
    namespace,
    '--field-selector',
    `involvedObject.kind=Ingress,involvedObject.name=${name}`,
    '-o',
    'json',
  ]);
  return (JSON.parse(result.stdout) as { items: KubeEvent[] }).items;
}
