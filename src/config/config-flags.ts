// The command-line flags behind Config, declared once for `serve` and `demo`. Values stay
// strings here; `buildConfig` checks them all together so every problem is reported at once.

import type { Command } from 'commander';
import {
  type ConfigInput,
  DEFAULT_ADMIN_PORT,
  DEFAULT_BIND_ADDRESS,
  DEFAULT_CONTROLLER_CLASS,
  DEFAULT_HSTS_MAX_AGE_SECONDS,
  DEFAULT_HTTP_PORT,
  DEFAULT_HTTPS_PORT,
  DEFAULT_INGRESS_CLASS,
  DEFAULT_LIMIT_STATUS_CODE,
  DEFAULT_LOG_LEVEL,
  DEFAULT_SHUTDOWN_GRACE_PERIOD_MS,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  LOG_LEVELS,
} from './config.ts';

/** What commander hands the action for the options below (unset options are absent). */
export interface ConfigFlags {
  manifests?: string[];
  httpPort?: string;
  httpsPort?: string;
  adminPort?: string;
  defaultSslCertificate?: string;
  hsts?: string;
  hstsMaxAge?: string;
  hstsIncludeSubdomains?: string;
  bindAddress?: string;
  ingressClass?: string;
  controllerClass?: string;
  watchIngressWithoutClass?: boolean;
  logLevel?: string;
  kubeconfig?: string;
  watchNamespace?: string[];
  updateStatus?: string;
  publishService?: string;
  publishStatusAddress?: string;
  electionId?: string;
  limitStatusCode?: string;
  shutdownGracePeriod?: string;
  shutdownTimeout?: string;
  workers?: string;
  trustForwardedFrom?: string[];
  proxyProtocol?: boolean;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function addManifestOption(command: Command): Command {
  return command.option(
    '--manifests <file|dir>',
    'manifest file or directory, watched for edits (repeatable)',
    collect,
  );
}

export function addListenerOptions(command: Command, bindAddress = DEFAULT_BIND_ADDRESS): Command {
  return command
    .option('--http-port <port>', 'port of the HTTP proxy listener (0: any free port)', String(DEFAULT_HTTP_PORT))
    .option(
      '--https-port <port>',
      `port of the HTTPS proxy listener (default ${DEFAULT_HTTPS_PORT}; any free port when --http-port is 0)`,
    )
    .option(
      '--admin-port <port>',
      'port of /healthz, /readyz and /metrics (0: any free port)',
      String(DEFAULT_ADMIN_PORT),
    )
    .option('--bind-address <ip>', 'address both listeners bind to', bindAddress)
    .option('--log-level <level>', `log level: ${LOG_LEVELS.join(', ')}`, DEFAULT_LOG_LEVEL)
    .option(
      '--limit-status-code <code>',
      'status for requests refused by limit-rps/-rpm/-connections (429 is the other common choice)',
      String(DEFAULT_LIMIT_STATUS_CODE),
    );
}

/** The HTTPS listener's certificate and Strict-Transport-Security (ingress-nginx's names). */
export function addTlsOptions(command: Command): Command {
  return command
    .option(
      '--default-ssl-certificate <ns/name>',
      'TLS Secret served when no Ingress names one for the host (default: a self-signed certificate made at start)',
    )
    .option('--hsts <bool>', 'send Strict-Transport-Security on HTTPS responses (true/false)', 'true')
    .option('--hsts-max-age <seconds>', 'Strict-Transport-Security max-age', String(DEFAULT_HSTS_MAX_AGE_SECONDS))
    .option(
      '--hsts-include-subdomains <bool>',
      'add includeSubDomains to Strict-Transport-Security (true/false)',
      'true',
    );
}

/** Trusted forwarders in front of Portico (ingress-nginx: use-forwarded-headers, proxy-real-ip-cidr, use-proxy-protocol). */
export function addClientAddressOptions(command: Command): Command {
  return command
    .option(
      '--trust-forwarded-from <cidrs>',
      'peers (CIDRs or addresses, comma-separated or repeated) believed about the client address: X-Forwarded-For, or the PROXY header',
      collect,
    )
    .option(
      '--proxy-protocol',
      'every connection starts with a PROXY protocol v1/v2 header (believed only from --trust-forwarded-from peers)',
      false,
    );
}

export function addClassOptions(command: Command): Command {
  return command
    .option('--ingress-class <name>', 'legacy kubernetes.io/ingress.class value we serve', DEFAULT_INGRESS_CLASS)
    .option('--controller-class <name>', 'IngressClass spec.controller we serve', DEFAULT_CONTROLLER_CLASS)
    .option('--watch-ingress-without-class', 'also serve Ingresses that name no class', false);
}

/** Cluster mode (serve without --manifests); names as ingress-nginx's where one exists. */
export function addClusterOptions(command: Command): Command {
  return command
    .option('--kubeconfig <file>', 'kubeconfig for running outside the cluster (default: in-cluster config)')
    .option('--watch-namespace <ns>', 'namespace to watch (repeatable or comma-separated; default: all)', collect)
    .option('--publish-service <ns/name>', 'Service whose address is written into Ingress status')
    .option('--publish-status-address <addresses>', 'address(es), comma-separated, written into Ingress status')
    .option('--election-id <name>', 'name of the leader-election Lease', 'portico-leader')
    .option('--update-status <bool>', 'write Ingress status (true/false)', 'true');
}

/** `serve` only: how a SIGTERM drains, and how many proxy processes run. */
export function addLifecycleOptions(command: Command): Command {
  return command
    .option(
      '--shutdown-grace-period <duration>',
      `after SIGTERM, keep serving this long with /readyz failing so load balancers notice (default ${DEFAULT_SHUTDOWN_GRACE_PERIOD_MS / 1000}s)`,
    )
    .option(
      '--shutdown-timeout <duration>',
      `then stop accepting and give in-flight requests this long (default ${DEFAULT_SHUTDOWN_TIMEOUT_MS / 1000}s)`,
    )
    .option(
      '--workers <n>',
      'proxy processes sharing the ports (default: the CPUs this process may use; 1: one process, no workers)',
    );
}

export function configInputFromFlags(flags: ConfigFlags): ConfigInput {
  return {
    kubeconfig: flags.kubeconfig,
    watchNamespaces: flags.watchNamespace,
    updateStatus: flags.updateStatus === 'true' ? undefined : flags.updateStatus,
    publishService: flags.publishService,
    publishStatusAddress: flags.publishStatusAddress,
    electionId: flags.electionId === 'portico-leader' ? undefined : flags.electionId,
    env: process.env,
    manifests: flags.manifests ?? [],
    httpPort: flags.httpPort,
    httpsPort: flags.httpsPort,
    adminPort: flags.adminPort,
    defaultSslCertificate: flags.defaultSslCertificate,
    hsts: flags.hsts,
    hstsMaxAge: flags.hstsMaxAge,
    hstsIncludeSubdomains: flags.hstsIncludeSubdomains,
    bindAddress: flags.bindAddress,
    ingressClass: flags.ingressClass,
    controllerClass: flags.controllerClass,
    watchIngressWithoutClass: flags.watchIngressWithoutClass,
    logLevel: flags.logLevel,
    limitStatusCode: flags.limitStatusCode,
    shutdownGracePeriod: flags.shutdownGracePeriod,
    shutdownTimeout: flags.shutdownTimeout,
    workers: flags.workers,
    trustForwardedFrom: flags.trustForwardedFrom,
    proxyProtocol: flags.proxyProtocol,
  };
}
