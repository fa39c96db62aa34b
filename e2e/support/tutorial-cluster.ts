// The setup most cluster e2e files share: a real control plane, a network namespace with three
// "pods" (web-1 and web-2 answering Version 1.0.0, web2-1 answering 2.0.0), and the Kubernetes
// "Set up Ingress on Minikube" objects with their EndpointSlices written by hand (no
// controller-manager runs). The Ingress itself is left to each test unless asked for.

import { type ControlPlane, startControlPlane } from '../harness/control-plane.ts';
import { type Backend, createNetns, type Netns, startBackend } from '../harness/netns.ts';
import { documents, endpointSliceYaml, ingressClassYaml, ingressYaml, serviceYaml } from './kube-objects.ts';

export const TUTORIAL_HOST = 'hello-world.info';

export interface TutorialCluster {
  readonly controlPlane: ControlPlane;
  readonly netns: Netns;
  readonly backends: readonly Backend[];
  apply(yaml: string): Promise<unknown>;
  stop(): Promise<void>;
}

export async function startTutorialCluster(options: { readonly withIngress?: boolean } = {}): Promise<TutorialCluster> {
  const controlPlane = await startControlPlane();
  const backends: Backend[] = [];
  let netns: Netns | undefined;
  const stop = async () => {
    for (const backend of backends) await backend.stop();
    await netns?.destroy();
    await controlPlane.stop();
  };
  try {
    netns = await createNetns({ podCount: 3 });
    const [a, b, c] = netns.podAddresses as [string, string, string];
    backends.push(await startBackend(netns, { address: a, name: 'web-1' }));
    backends.push(await startBackend(netns, { address: b, name: 'web-2' }));
    backends.push(await startBackend(netns, { address: c, name: 'web2-1', version: '2.0.0' }));
    const apply = (yaml: string) => controlPlane.kubectl(['apply', '-f', '-'], { input: yaml });
    await apply(
      documents(
        ingressClassYaml('portico'),
        serviceYaml('default', 'web'),
        serviceYaml('default', 'web2'),
        endpointSliceYaml('default', 'web-1', 'web', [{ address: a }]),
        endpointSliceYaml('default', 'web2-1', 'web2', [{ address: c }]),
        ...(options.withIngress
          ? [
              ingressYaml('default', 'example-ingress', TUTORIAL_HOST, [
                { path: '/', service: 'web' },
                { path: '/v2', service: 'web2' },
              ]),
            ]
          : []),
      ),
    );
    return { controlPlane, netns, backends, apply, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
