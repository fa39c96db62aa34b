// Kubeconfig files for the test control plane. Credentials are embedded
// (*-data fields) rather than referenced by path, so a kubeconfig stays valid
// when copied, e.g. into a Helm release's Secret or another process's cwd.
// Written as JSON, which is YAML, so kubectl, helm and client-node all read it.
import { writeFile } from 'node:fs/promises';

export type KubeconfigUser =
  | { readonly kind: 'client-certificate'; readonly certPem: string; readonly keyPem: string }
  | { readonly kind: 'token'; readonly token: string };

export interface KubeconfigOptions {
  readonly serverUrl: string;
  readonly caPem: string;
  readonly user: KubeconfigUser;
  /** Used for the cluster, user and context names. */
  readonly name: string;
  readonly namespace?: string;
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

export function renderKubeconfig(options: KubeconfigOptions): string {
  const user =
    options.user.kind === 'token'
      ? { token: options.user.token }
      : {
          'client-certificate-data': base64(options.user.certPem),
          'client-key-data': base64(options.user.keyPem),
        };
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'portico-e2e',
        cluster: { server: options.serverUrl, 'certificate-authority-data': base64(options.caPem) },
      },
    ],
    users: [{ name: options.name, user }],
    contexts: [
      {
        name: options.name,
        context: {
          cluster: 'portico-e2e',
          user: options.name,
          ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
        },
      },
    ],
    'current-context': options.name,
    preferences: {},
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

export async function writeKubeconfig(path: string, options: KubeconfigOptions): Promise<string> {
  // Credentials inside: readable by the owner only.
  await writeFile(path, renderKubeconfig(options), { mode: 0o600 });
  return path;
}
