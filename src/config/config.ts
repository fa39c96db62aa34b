// Flags → one validated, frozen Config. Every default Portico has lives in this file, so a
// reader finds in one place what a bare `portico serve` does. Validation reports every
// problem at once, one line each, and never throws: the CLI prints them and exits 2.

import { statSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism, hostname } from 'node:os';
import {
  type CompileOptions,
  DEFAULT_CONTROLLER_CLASS,
  DEFAULT_INGRESS_CLASS,
  DEFAULT_MAX_ROUTES,
} from '../compile/compile-options.ts';
import { parseSourceRange, type SourceRange } from '../routing/source-range.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const DEFAULT_HTTP_PORT = 8080;
/** The HTTPS listener; the chart's Service maps 443 to it. */
export const DEFAULT_HTTPS_PORT = 8443;
/** Strict-Transport-Security defaults, as ingress-nginx's `hsts-*` ConfigMap keys: one year, subdomains included. */
export const DEFAULT_HSTS_MAX_AGE_SECONDS = 31_536_000;
export const DEFAULT_HSTS_INCLUDE_SUBDOMAINS = true;
/** An HSTS max-age above this is a typo: 2^31-1 s is over 68 years. */
const MAX_HSTS_MAX_AGE_SECONDS = 2_147_483_647;
export const DEFAULT_ADMIN_PORT = 10254;
export const DEFAULT_BIND_ADDRESS = '0.0.0.0';
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';
export { DEFAULT_CONTROLLER_CLASS, DEFAULT_INGRESS_CLASS };

/** Route-relevant changes wait this long for the burst to end (Contour's hold-off). */
export const DEFAULT_REBUILD_HOLDOFF_MS = 50;
/** ...but a steady stream of changes never delays a rebuild past this. */
export const DEFAULT_REBUILD_MAX_DELAY_MS = 500;
/** Editors write a file in several steps; re-read manifests once the writes settle. */
export const DEFAULT_MANIFEST_WATCH_HOLDOFF_MS = 100;
export const DEFAULT_MANIFEST_WATCH_MAX_DELAY_MS = 1_000;
/**
 * ...except a burst touching only files last read as small EndpointSlice-only manifests: an
 * endpoint change should reach traffic in milliseconds (issue 8: < 50 ms p99), and such a file
 * is written in one step (ManifestSource explains why that is safe; an emptied file is still
 * held for a second).
 */
export const DEFAULT_MANIFEST_WATCH_FAST_HOLDOFF_MS = 10;
/** Status for requests refused by `limit-rps`/`-rpm`/`-connections`: ingress-nginx's limit-req-status-code and limit-conn-status-code default. */
export const DEFAULT_LIMIT_STATUS_CODE = 503;
/**
 * Shutdown, in two phases (README "Graceful shutdown"). First the grace period: /readyz fails
 * at once while the listeners keep serving, so load balancers and kube-proxy notice the
 * endpoint going away before connections are refused (ingress-nginx's --shutdown-grace-period).
 */
export const DEFAULT_SHUTDOWN_GRACE_PERIOD_MS = 10_000;
/**
 * Then the listeners close and in-flight requests get this long to finish before their
 * connections are cut: long enough for ordinary slow requests (uploads, reports), short
 * enough that a rollout is not held up by a request that hangs.
 */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;
/** A longer value is a typo (an hour): it would hold a rollout that long. */
const MAX_SHUTDOWN_PHASE_MS = 3_600_000;
/** More worker processes than this is a typo on any machine Portico runs on. */
const MAX_WORKERS = 256;

/** `portico demo` listens on loopback only: it is for trying Portico on one's own machine. */
export const DEMO_BIND_ADDRESS = '127.0.0.1';
export const DEFAULT_DEMO_BACKEND_PORT = 18080;

/** Cluster mode: what to watch and how to report back (ingress-nginx's flag names). */
export interface KubeSettings {
  /** undefined: in-cluster config */
  readonly kubeconfig: string | undefined;
  /** empty: every namespace */
  readonly watchNamespaces: readonly string[];
  readonly updateStatus: boolean;
  /** `ns/name` of the Service whose address goes into Ingress status */
  readonly publishService: string | undefined;
  readonly publishStatusAddresses: readonly string[];
  /** Lease name */
  readonly electionId: string;
  /** the Lease's namespace: the controller's own (POD_NAMESPACE) */
  readonly electionNamespace: string;
  /** this replica's name in the Lease and in Events (POD_NAME, else the host name) */
  readonly identity: string;
}

export const DEFAULT_ELECTION_ID = 'portico-leader';

/** The HTTPS listener's certificate and header settings. */
export interface TlsSettings {
  /** `ns/name` of the Secret served when no Ingress's applies (--default-ssl-certificate) */
  readonly defaultCertificateSecret: string | undefined;
  /** the Strict-Transport-Security value sent on every HTTPS response; undefined: none (--hsts false) */
  readonly strictTransportSecurity: string | undefined;
}

/** Who may speak for the client (--trust-forwarded-from, --proxy-protocol). */
export interface ClientAddressSettings {
  /** empty: the socket's peer is the client, whatever headers say (the default) */
  readonly trusted: readonly SourceRange[];
  readonly proxyProtocol: boolean;
}

export interface Config {
  /** manifest files and directories, in the order given; empty in cluster mode */
  readonly manifests: readonly string[];
  /** set in cluster mode (no --manifests), undefined in standalone mode */
  readonly kube: KubeSettings | undefined;
  /** 0 means any free port (tests) */
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly adminPort: number;
  readonly bindAddress: string;
  readonly logLevel: LogLevel;
  readonly tls: TlsSettings;
  readonly clientAddress: ClientAddressSettings;
  readonly compile: CompileOptions;
  readonly rebuildHoldoffMs: number;
  readonly rebuildMaxDelayMs: number;
  readonly manifestWatchHoldoffMs: number;
  readonly manifestWatchMaxDelayMs: number;
  /** the hold-off for an edit of a small EndpointSlice-only manifest file */
  readonly manifestWatchFastHoldoffMs: number;
  /** status for requests refused by the `limit-*` annotations (--limit-status-code) */
  readonly limitStatusCode: number;
  /** SIGTERM → this long serving with /readyz failing, then the listeners close */
  readonly shutdownGracePeriodMs: number;
  /** ...then in-flight requests get this long before their connections are cut */
  readonly shutdownTimeoutMs: number;
  /** proxy processes (README "Workers"); 1 runs everything in this one process, without node:cluster */
  readonly workers: number;
}

/** What the flags parser hands over: strings as typed, before any check. */
export interface ConfigInput {
  readonly manifests?: readonly string[] | undefined;
  readonly httpPort?: string | undefined;
  readonly httpsPort?: string | undefined;
  readonly adminPort?: string | undefined;
  readonly defaultSslCertificate?: string | undefined;
  readonly hsts?: string | undefined;
  readonly hstsMaxAge?: string | undefined;
  readonly hstsIncludeSubdomains?: string | undefined;
  readonly bindAddress?: string | undefined;
  readonly ingressClass?: string | undefined;
  readonly controllerClass?: string | undefined;
  readonly watchIngressWithoutClass?: boolean | undefined;
  readonly logLevel?: string | undefined;
  readonly kubeconfig?: string | undefined;
  readonly watchNamespaces?: readonly string[] | undefined;
  readonly updateStatus?: string | undefined;
  readonly publishService?: string | undefined;
  readonly publishStatusAddress?: string | undefined;
  readonly electionId?: string | undefined;
  readonly limitStatusCode?: string | undefined;
  /** a duration: `10s`, `1500ms`, or bare seconds */
  readonly shutdownGracePeriod?: string | undefined;
  readonly shutdownTimeout?: string | undefined;
  readonly workers?: string | undefined;
  readonly trustForwardedFrom?: readonly string[] | undefined;
  readonly proxyProtocol?: boolean | undefined;
  /** the process environment (KUBERNETES_SERVICE_HOST, POD_NAMESPACE, POD_NAME, HOSTNAME) */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
}

export type ConfigResult =
  { readonly ok: true; readonly config: Config } | { readonly ok: false; readonly problems: readonly string[] };

const MAX_PORT = 65_535;
/** IngressClass `spec.controller` is a domain-prefixed path of at most 250 characters (networking/v1 API docs). */
const MAX_CONTROLLER_CLASS_LENGTH = 250;

/** Checks one port flag; a bad value adds a problem line and returns the fallback. */
export function parsePortFlag(flag: string, raw: string | undefined, fallback: number, problems: string[]): number {
  if (raw === undefined) return fallback;
  const trimmed = raw.trim();
  const value = /^\d{1,5}$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!Number.isInteger(value) || value > MAX_PORT) {
    problems.push(`${flag} ${JSON.stringify(raw)} is not a port: use 1-${MAX_PORT} (or 0 for any free port)`);
    return fallback;
  }
  return value;
}

function checkManifestPaths(paths: readonly string[], problems: string[]): void {
  for (const path of paths) {
    try {
      const info = statSync(path);
      if (!info.isFile() && !info.isDirectory()) {
        problems.push(`--manifests ${JSON.stringify(path)} is neither a file nor a directory`);
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      problems.push(
        code === 'ENOENT'
          ? `--manifests ${JSON.stringify(path)} does not exist`
          : `--manifests ${JSON.stringify(path)} cannot be read (${code ?? 'error'})`,
      );
    }
  }
}

function checkName(flag: string, value: string, maxLength: number, problems: string[]): void {
  if (value === '' || /\s/.test(value) || value.length > maxLength) {
    problems.push(`${flag} ${JSON.stringify(value)} must be 1-${maxLength} characters without spaces`);
  }
}

function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const NAMESPACED_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\/[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?$/;

function splitList(values: readonly string[] | string | undefined): string[] {
  const list = typeof values === 'string' ? [values] : (values ?? []);
  return list
    .flatMap((value) => value.split(','))
    .map((value) => value.trim())
    .filter(Boolean);
}

/** Cluster-mode flags; standalone mode rejects them so a typo cannot silently change the mode. */
function buildKubeSettings(input: ConfigInput, standalone: boolean, problems: string[]): KubeSettings | undefined {
  const env = input.env ?? {};
  const clusterFlags = [
    ['--kubeconfig', input.kubeconfig],
    ['--watch-namespace', input.watchNamespaces?.length ? 'set' : undefined],
    ['--publish-service', input.publishService],
    ['--publish-status-address', input.publishStatusAddress],
    ['--election-id', input.electionId],
    ['--update-status', input.updateStatus],
  ] as const;
  if (standalone) {
    for (const [flag, value] of clusterFlags) {
      if (value !== undefined) problems.push(`${flag} is for cluster mode; it cannot be combined with --manifests`);
    }
    return undefined;
  }
  if (input.kubeconfig === undefined && !env.KUBERNETES_SERVICE_HOST) {
    problems.push(
      'no source: give --manifests <file|dir> for standalone mode, or run in a cluster (or give --kubeconfig <file>) for cluster mode',
    );
  }
  if (input.kubeconfig !== undefined) {
    try {
      if (!statSync(input.kubeconfig).isFile())
        problems.push(`--kubeconfig ${JSON.stringify(input.kubeconfig)} is not a file`);
    } catch {
      problems.push(`--kubeconfig ${JSON.stringify(input.kubeconfig)} does not exist`);
    }
  }
  const watchNamespaces = splitList(input.watchNamespaces);
  for (const namespace of watchNamespaces) {
    if (!DNS_LABEL.test(namespace))
      problems.push(`--watch-namespace ${JSON.stringify(namespace)} is not a namespace name`);
  }
  const publishService = input.publishService?.trim() || undefined;
  if (publishService !== undefined && !NAMESPACED_NAME.test(publishService)) {
    problems.push(`--publish-service ${JSON.stringify(input.publishService)} must be namespace/name`);
  }
  const publishStatusAddresses = splitList(input.publishStatusAddress);
  const electionId = input.electionId ?? DEFAULT_ELECTION_ID;
  if (!DNS_LABEL.test(electionId))
    problems.push(`--election-id ${JSON.stringify(electionId)} is not a valid Lease name`);
  const rawUpdate = (input.updateStatus ?? 'true').trim().toLowerCase();
  if (rawUpdate !== 'true' && rawUpdate !== 'false') {
    problems.push(`--update-status ${JSON.stringify(input.updateStatus)} must be true or false`);
  }
  const identity = env.POD_NAME || `${env.HOSTNAME || hostname()}-${process.pid}`;
  return Object.freeze({
    kubeconfig: input.kubeconfig,
    watchNamespaces: Object.freeze(watchNamespaces),
    updateStatus: rawUpdate !== 'false',
    publishService,
    publishStatusAddresses: Object.freeze(publishStatusAddresses),
    electionId,
    electionNamespace: env.POD_NAMESPACE || 'default',
    identity,
  });
}

function parseBooleanFlag(flag: string, raw: string | undefined, fallback: boolean, problems: string[]): boolean {
  if (raw === undefined) return fallback;
  const value = raw.trim().toLowerCase();
  if (value === 'true') return true;
  if (value === 'false') return false;
  problems.push(`${flag} ${JSON.stringify(raw)} must be true or false`);
  return fallback;
}

function buildTlsSettings(input: ConfigInput, problems: string[]): TlsSettings {
  const defaultCertificateSecret = input.defaultSslCertificate?.trim() || undefined;
  if (defaultCertificateSecret !== undefined && !NAMESPACED_NAME.test(defaultCertificateSecret)) {
    problems.push(`--default-ssl-certificate ${JSON.stringify(input.defaultSslCertificate)} must be namespace/name`);
  }
  const hsts = parseBooleanFlag('--hsts', input.hsts, true, problems);
  const includeSubdomains = parseBooleanFlag(
    '--hsts-include-subdomains',
    input.hstsIncludeSubdomains,
    DEFAULT_HSTS_INCLUDE_SUBDOMAINS,
    problems,
  );
  let maxAge = DEFAULT_HSTS_MAX_AGE_SECONDS;
  if (input.hstsMaxAge !== undefined) {
    const trimmed = input.hstsMaxAge.trim();
    const value = /^\d{1,10}$/.test(trimmed) ? Number(trimmed) : Number.NaN;
    if (!(value <= MAX_HSTS_MAX_AGE_SECONDS)) {
      problems.push(
        `--hsts-max-age ${JSON.stringify(input.hstsMaxAge)} must be a number of seconds, 0-${MAX_HSTS_MAX_AGE_SECONDS}`,
      );
    } else {
      maxAge = value;
    }
  }
  // RFC 6797 section 6.1: max-age in seconds (0 tells browsers to forget the host), then includeSubDomains.
  return Object.freeze({
    defaultCertificateSecret,
    strictTransportSecurity: hsts ? `max-age=${maxAge}${includeSubdomains ? '; includeSubDomains' : ''}` : undefined,
  });
}

/** `10s`, `1500ms`, `2m` or bare seconds (`10`, `0.5`) → milliseconds; a bad value adds a problem line. */
export function parseDurationFlag(flag: string, raw: string | undefined, fallback: number, problems: string[]): number {
  if (raw === undefined) return fallback;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(raw.trim());
  const unitMs = match?.[2] === 'ms' ? 1 : match?.[2] === 'm' ? 60_000 : 1_000;
  const value = match ? Math.round(Number(match[1]) * unitMs) : Number.NaN;
  if (!(value >= 0 && value <= MAX_SHUTDOWN_PHASE_MS)) {
    problems.push(`${flag} ${JSON.stringify(raw)} must be a duration such as 10s, 1500ms or 2m (at most 1h)`);
    return fallback;
  }
  return value;
}

/** Default: the CPUs this process may run on (its affinity mask), as os.availableParallelism() counts them. */
function parseWorkersFlag(raw: string | undefined, problems: string[]): number {
  if (raw === undefined) return Math.min(MAX_WORKERS, availableParallelism());
  const value = /^\d{1,3}$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!(value >= 1 && value <= MAX_WORKERS)) {
    problems.push(`--workers ${JSON.stringify(raw)} must be a number of processes, 1-${MAX_WORKERS}`);
    return 1;
  }
  return value;
}

function buildClientAddressSettings(input: ConfigInput, problems: string[]): ClientAddressSettings {
  const trusted: SourceRange[] = [];
  for (const entry of splitList(input.trustForwardedFrom)) {
    const range = parseSourceRange(entry);
    if (range === undefined)
      problems.push(`--trust-forwarded-from ${JSON.stringify(entry)} is not an IP address or CIDR`);
    else trusted.push(range);
  }
  const proxyProtocol = input.proxyProtocol ?? false;
  if (
    proxyProtocol &&
    trusted.length === 0 &&
    !problems.some((problem) => problem.startsWith('--trust-forwarded-from'))
  ) {
    problems.push('--proxy-protocol needs --trust-forwarded-from: a PROXY header is believed only from those peers');
  }
  return Object.freeze({ trusted: Object.freeze(trusted), proxyProtocol });
}

export function buildConfig(input: ConfigInput): ConfigResult {
  const problems: string[] = [];
  const manifests = [...(input.manifests ?? [])];
  checkManifestPaths(manifests, problems);
  const kube = buildKubeSettings(input, manifests.length > 0, problems);

  const httpPort = parsePortFlag('--http-port', input.httpPort, DEFAULT_HTTP_PORT, problems);
  // `--http-port 0` asks for any free port (tests, side-by-side runs): HTTPS follows unless given.
  const httpsPort = parsePortFlag('--https-port', input.httpsPort, httpPort === 0 ? 0 : DEFAULT_HTTPS_PORT, problems);
  const adminPort = parsePortFlag('--admin-port', input.adminPort, DEFAULT_ADMIN_PORT, problems);
  const ports: readonly (readonly [string, number])[] = [
    ['--http-port', httpPort],
    ['--https-port', httpsPort],
    ['--admin-port', adminPort],
  ];
  for (const [index, [flag, port]] of ports.entries()) {
    for (const [otherFlag, otherPort] of ports.slice(index + 1)) {
      if (port === otherPort && port !== 0) {
        problems.push(`${flag} and ${otherFlag} are both ${port}; each listener needs its own port`);
      }
    }
  }
  const tls = buildTlsSettings(input, problems);
  const clientAddress = buildClientAddressSettings(input, problems);

  const bindAddress = (input.bindAddress ?? DEFAULT_BIND_ADDRESS).trim();
  if (isIP(bindAddress) === 0 && bindAddress !== 'localhost') {
    problems.push(`--bind-address ${JSON.stringify(input.bindAddress)} is not an IP address (or "localhost")`);
  }

  const ingressClass = input.ingressClass ?? DEFAULT_INGRESS_CLASS;
  checkName('--ingress-class', ingressClass, MAX_CONTROLLER_CLASS_LENGTH, problems);
  const controllerClass = input.controllerClass ?? DEFAULT_CONTROLLER_CLASS;
  checkName('--controller-class', controllerClass, MAX_CONTROLLER_CLASS_LENGTH, problems);

  const rawLevel = (input.logLevel ?? DEFAULT_LOG_LEVEL).trim().toLowerCase();
  const logLevel = isLogLevel(rawLevel) ? rawLevel : DEFAULT_LOG_LEVEL;
  if (!isLogLevel(rawLevel)) {
    problems.push(`--log-level ${JSON.stringify(input.logLevel)} is not one of ${LOG_LEVELS.join(', ')}`);
  }

  let limitStatusCode = DEFAULT_LIMIT_STATUS_CODE;
  if (input.limitStatusCode !== undefined) {
    const trimmed = input.limitStatusCode.trim();
    if (/^[45]\d\d$/.test(trimmed)) limitStatusCode = Number(trimmed);
    else problems.push(`--limit-status-code ${JSON.stringify(input.limitStatusCode)} must be a status from 400 to 599`);
  }
  const shutdownGracePeriodMs = parseDurationFlag(
    '--shutdown-grace-period',
    input.shutdownGracePeriod,
    DEFAULT_SHUTDOWN_GRACE_PERIOD_MS,
    problems,
  );
  const shutdownTimeoutMs = parseDurationFlag(
    '--shutdown-timeout',
    input.shutdownTimeout,
    DEFAULT_SHUTDOWN_TIMEOUT_MS,
    problems,
  );
  const workers = parseWorkersFlag(input.workers, problems);

  if (problems.length > 0) return { ok: false, problems };
  const config: Config = Object.freeze({
    manifests: Object.freeze(manifests),
    kube,
    httpPort,
    httpsPort,
    adminPort,
    bindAddress,
    logLevel,
    tls,
    clientAddress,
    compile: Object.freeze({
      controllerClass,
      ingressClass,
      watchIngressWithoutClass: input.watchIngressWithoutClass ?? false,
      maxRoutes: DEFAULT_MAX_ROUTES,
    }),
    rebuildHoldoffMs: DEFAULT_REBUILD_HOLDOFF_MS,
    rebuildMaxDelayMs: DEFAULT_REBUILD_MAX_DELAY_MS,
    manifestWatchHoldoffMs: DEFAULT_MANIFEST_WATCH_HOLDOFF_MS,
    manifestWatchMaxDelayMs: DEFAULT_MANIFEST_WATCH_MAX_DELAY_MS,
    manifestWatchFastHoldoffMs: DEFAULT_MANIFEST_WATCH_FAST_HOLDOFF_MS,
    limitStatusCode,
    shutdownGracePeriodMs,
    shutdownTimeoutMs,
    workers,
  });
  return { ok: true, config };
}
