// Flags → one validated, frozen Config. Every default Portico has lives in this file, so a
// reader finds in one place what a bare `portico serve` does. Validation reports every
// problem at once, one line each, and never throws: the CLI prints them and exits 2.

import { statSync } from 'node:fs';
import { isIP } from 'node:net';
import {
  type CompileOptions,
  DEFAULT_CONTROLLER_CLASS,
  DEFAULT_INGRESS_CLASS,
  DEFAULT_MAX_ROUTES,
} from '../compile/compile-options.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const DEFAULT_HTTP_PORT = 8080;
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
/** How long shutdown waits for in-flight requests before closing their connections. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;

/** `portico demo` listens on loopback only: it is for trying Portico on one's own machine. */
export const DEMO_BIND_ADDRESS = '127.0.0.1';
export const DEFAULT_DEMO_BACKEND_PORT = 18080;

export interface Config {
  /** manifest files and directories, in the order given */
  readonly manifests: readonly string[];
  /** 0 means any free port (tests) */
  readonly httpPort: number;
  readonly adminPort: number;
  readonly bindAddress: string;
  readonly logLevel: LogLevel;
  readonly compile: CompileOptions;
  readonly rebuildHoldoffMs: number;
  readonly rebuildMaxDelayMs: number;
  readonly manifestWatchHoldoffMs: number;
  readonly manifestWatchMaxDelayMs: number;
  readonly shutdownGraceMs: number;
}

/** What the flags parser hands over: strings as typed, before any check. */
export interface ConfigInput {
  readonly manifests?: readonly string[] | undefined;
  readonly httpPort?: string | undefined;
  readonly adminPort?: string | undefined;
  readonly bindAddress?: string | undefined;
  readonly ingressClass?: string | undefined;
  readonly controllerClass?: string | undefined;
  readonly watchIngressWithoutClass?: boolean | undefined;
  readonly logLevel?: string | undefined;
}

export type ConfigResult =
  | { readonly ok: true; readonly config: Config }
  | { readonly ok: false; readonly problems: readonly string[] };

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
  if (paths.length === 0) {
    problems.push('--manifests is required: give at least one manifest file or directory');
    return;
  }
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

export function buildConfig(input: ConfigInput): ConfigResult {
  const problems: string[] = [];
  const manifests = [...(input.manifests ?? [])];
  checkManifestPaths(manifests, problems);

  const httpPort = parsePortFlag('--http-port', input.httpPort, DEFAULT_HTTP_PORT, problems);
  const adminPort = parsePortFlag('--admin-port', input.adminPort, DEFAULT_ADMIN_PORT, problems);
  if (httpPort === adminPort && httpPort !== 0) {
    problems.push(`--http-port and --admin-port are both ${httpPort}; each listener needs its own port`);
  }

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

  if (problems.length > 0) return { ok: false, problems };
  const config: Config = Object.freeze({
    manifests: Object.freeze(manifests),
    httpPort,
    adminPort,
    bindAddress,
    logLevel,
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
    shutdownGraceMs: DEFAULT_SHUTDOWN_GRACE_MS,
  });
  return { ok: true, config };
}
