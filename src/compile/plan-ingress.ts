// The part of compile that looks at one served Ingress alone (with the Services and Secrets it
// names): its annotations, its hosts and paths checked, its backends resolved. What depends on
// other Ingresses (oldest wins per path, per default backend and per TLS host, canaries meeting
// their main route, the route cap) is merge-host.ts's. A plan holds for as long as its record
// and the records it read do (snapshot-reads.ts), so a compile after a change re-plans only
// the Ingresses that changed.

import type { Diagnostic } from '../model/diagnostic.ts';
import type { IngressBackendRecord, IngressPathRecord, IngressRecord, SecretRecord } from '../model/records.ts';
import { highestGroupReference } from '../routing/rewrite-path.ts';
import type { HostDefaultBackend, Route, RouteAttributes, SelectionAttributes } from '../routing/route-table.ts';
import type { ClusterSnapshot } from '../store/cluster-snapshot.ts';
import { type CanarySettings, parseCanaryAnnotations } from './annotations/parse-canary-annotations.ts';
import { type IngressAnnotations, parseRouteAnnotations } from './annotations/parse-route-annotations.ts';
import { NGINX_PREFIX } from './annotations/annotation-registry.ts';
import { invalidAnnotation } from './annotations/read-annotation.ts';
import { parseSelectionAnnotations } from './annotations/parse-selection-annotations.ts';
import { compilePathPattern } from './compile-path-pattern.ts';
import { resolveAuth } from './resolve-auth.ts';
import { type BackendResolution, checkBackendShape, resolveBackend } from './resolve-backend.ts';
import { type UpstreamChoice, type UpstreamChoiceResult, upstreamChoiceFor } from './resolve-upstream.ts';
import { type ReadRecorder, type RecordLookup, recordReads, type SnapshotReads } from './snapshot-reads.ts';
import { validateRuleHost } from './validate-host.ts';
import { isPathType, validateLiteralPath } from './validate-path.ts';

/** A path that passed every check needing no other Ingress; it becomes a route if no older one has its key. */
export interface CandidateRoute {
  /** path + pathType: the identity that older Ingresses win */
  readonly key: string;
  /** frozen, ranked 0: used as it is when the Ingress is the oldest on its host and no canary attaches */
  readonly route: Route;
  /** the backend's problem, reported only when the route is kept (not for a losing duplicate) */
  readonly backendDiagnostic: Diagnostic | undefined;
}

export interface MainRule {
  readonly host: string;
  readonly candidates: readonly CandidateRoute[];
}

export interface MainPlan {
  readonly upstream: UpstreamChoice;
  readonly attributes: RouteAttributes;
  /** the rules with a valid host, in order (a host may appear twice) */
  readonly rules: readonly MainRule[];
  /** `spec.defaultBackend`, resolved; for the Ingress's hosts, or cluster-wide when it has no rules */
  readonly defaultBackend: HostDefaultBackend | undefined;
  readonly clusterWideDefault: boolean;
  /** `spec.tls` hosts that are valid, in order */
  readonly tls: readonly { readonly host: string; readonly secretKey: string | undefined }[];
}

export interface CanaryPath {
  readonly key: string;
  readonly path: string;
  readonly pathType: string | undefined;
  readonly backend: IngressBackendRecord;
}

export interface CanaryPlan {
  readonly settings: CanarySettings;
  readonly selection: SelectionAttributes;
  readonly rules: readonly { readonly host: string; readonly paths: readonly CanaryPath[] }[];
}

export interface IngressPlan {
  readonly ingress: IngressRecord;
  /** the Services and Secrets this plan was made from */
  readonly reads: SnapshotReads;
  /** the Ingress's own problems, whatever the other Ingresses say */
  readonly diagnostics: readonly Diagnostic[];
  /** every host the plan has a say on (rules, TLS, canary rules), each once, in first-seen order */
  readonly hosts: readonly string[];
  readonly main: MainPlan | undefined;
  readonly canary: CanaryPlan | undefined;
}

// An Ingress's annotations are read once per record: records are deep-frozen and replaced on
// every change, so a record seen by an earlier build gives the same result (and diagnostics)
// again. Keyed weakly, so a record the store dropped takes its entry with it.
const routeAnnotationsByRecord = new WeakMap<IngressRecord, IngressAnnotations>();
const canaryAnnotationsByRecord = new WeakMap<
  IngressRecord,
  { readonly settings: CanarySettings | undefined; readonly diagnostics: readonly Diagnostic[] }
>();

/**
 * What an Ingress without any nginx.ingress.kubernetes.io/ annotation reads as: every reader
 * finds nothing, so the result names no Ingress and is the same for all of them. Shared, it
 * saves parsing (about 60 µs an Ingress) and one attributes object per Ingress; the upstream
 * choice made from it is shared too.
 */
let withoutAnnotations:
  { readonly annotations: IngressAnnotations; readonly upstream: UpstreamChoiceResult } | undefined;

function hasNginxAnnotation(ingress: IngressRecord): boolean {
  for (const key in ingress.annotations) if (key.startsWith(NGINX_PREFIX)) return true;
  return false;
}

function routeAnnotationsOf(ingress: IngressRecord): IngressAnnotations {
  if (!hasNginxAnnotation(ingress)) return annotationFree(ingress).annotations;
  let annotations = routeAnnotationsByRecord.get(ingress);
  if (annotations === undefined) {
    annotations = parseRouteAnnotations(ingress);
    routeAnnotationsByRecord.set(ingress, annotations);
  }
  return annotations;
}

function annotationFree(ingress: IngressRecord): NonNullable<typeof withoutAnnotations> {
  if (withoutAnnotations === undefined) {
    const annotations = parseRouteAnnotations(ingress);
    withoutAnnotations = { annotations, upstream: upstreamChoiceFor(ingress, annotations.attributes, NO_SECRETS) };
  }
  return withoutAnnotations;
}

const NO_SECRETS: RecordLookup<SecretRecord> = { get: () => undefined };

/**
 * The Ingress's upstream settings: the shared ones for shared attributes, which name no
 * proxy-ssl-secret, so nothing of the Ingress or the Secrets goes into them.
 */
function upstreamChoiceOf(ingress: IngressRecord, attributes: RouteAttributes, recorder: ReadRecorder) {
  const shared = withoutAnnotations;
  if (shared !== undefined && attributes === shared.annotations.attributes) return shared.upstream;
  return upstreamChoiceFor(ingress, attributes, recorder.secrets);
}

function canaryAnnotationsOf(ingress: IngressRecord) {
  let canary = canaryAnnotationsByRecord.get(ingress);
  if (canary === undefined) {
    const diagnostics: Diagnostic[] = [];
    canary = { settings: parseCanaryAnnotations(ingress, diagnostics), diagnostics };
    canaryAnnotationsByRecord.set(ingress, canary);
  }
  return canary;
}

const NONE: readonly never[] = Object.freeze([]);

/** One shared empty array for the many empty lists of 10,000 plans. */
export function frozenOrNone<T>(list: T[]): readonly T[] {
  return list.length === 0 ? NONE : Object.freeze(list);
}

/** The key under which a path meets older Ingresses' and canaries' paths. */
export function pathKey(path: string, pathType: string | undefined): string {
  return `${path}\u0000${pathType ?? ''}`;
}

export function planIngress(
  ingress: IngressRecord,
  snapshot: Pick<ClusterSnapshot, 'services' | 'secrets'>,
): IngressPlan {
  const recorder = recordReads(snapshot);
  const diagnostics: Diagnostic[] = [];
  const hosts = new Set<string>();
  const canaryAnnotations = canaryAnnotationsOf(ingress);
  diagnostics.push(...canaryAnnotations.diagnostics);
  let main: MainPlan | undefined;
  let canary: CanaryPlan | undefined;
  if (canaryAnnotations.settings) {
    canary = planCanary(ingress, canaryAnnotations.settings, diagnostics, hosts);
  } else {
    main = planMain(ingress, recorder, diagnostics, hosts);
  }
  return Object.freeze({
    ingress,
    reads: recorder.reads(),
    diagnostics: frozenOrNone(diagnostics),
    hosts: frozenOrNone([...hosts]),
    main,
    canary,
  });
}

/** A rule's host, validated; undefined (and a diagnostic) when the rule is skipped. */
function ruleHost(object: string, raw: string | undefined, diagnostics: Diagnostic[]): string | undefined {
  const checked = validateRuleHost(raw);
  if (checked.ok) return checked.host;
  diagnostics.push({ object, code: 'InvalidHost', reason: `${checked.reason}; the rule is skipped` });
  return undefined;
}

/** Canary Ingresses add no routes: their paths attach to main routes (merge-host.ts). */
function planCanary(
  ingress: IngressRecord,
  settings: CanarySettings,
  diagnostics: Diagnostic[],
  hosts: Set<string>,
): CanaryPlan {
  const object = `Ingress ${ingress.key}`;
  // ingress-nginx: a canary keeps its own affinity, upstream-hash-by and load-balance.
  const selection = parseSelectionAnnotations(ingress, false, diagnostics);
  const rules: CanaryPlan['rules'][number][] = [];
  for (const rule of ingress.rules) {
    const host = ruleHost(object, rule.host, diagnostics);
    if (host === undefined) continue;
    const paths: CanaryPath[] = [];
    for (const record of rule.paths ?? []) {
      const path = record.path === undefined || record.path === '' ? '/' : record.path;
      const shapeError = checkBackendShape(record.backend);
      if (shapeError || !record.backend) {
        diagnostics.push({
          object,
          code: 'InvalidBackend',
          reason: `canary path ${JSON.stringify(path)} ${shapeError}; it is dropped`,
        });
        continue;
      }
      paths.push({ key: pathKey(path, record.pathType), path, pathType: record.pathType, backend: record.backend });
    }
    hosts.add(host);
    rules.push({ host, paths });
  }
  return { settings, selection, rules };
}

function planMain(
  ingress: IngressRecord,
  recorder: ReadRecorder,
  diagnostics: Diagnostic[],
  hosts: Set<string>,
): MainPlan {
  const object = `Ingress ${ingress.key}`;
  const annotations = routeAnnotationsOf(ingress);
  diagnostics.push(...annotations.diagnostics);
  const upstream = upstreamChoiceOf(ingress, annotations.attributes, recorder);
  diagnostics.push(...upstream.diagnostics);
  const withDefault = withDefaultBackend(
    ingress,
    annotations.attributes,
    annotations.defaultBackendService,
    recorder,
    diagnostics,
  );
  const auth = resolveAuth(ingress, recorder.secrets, diagnostics);
  const attributes = auth === undefined ? withDefault : Object.freeze({ ...withDefault, auth });

  const resolve = backendResolver(ingress, recorder, upstream.choice);
  const rules: MainRule[] = [];
  for (const rule of ingress.rules) {
    const host = ruleHost(object, rule.host, diagnostics);
    if (host === undefined) continue;
    const candidates: CandidateRoute[] = [];
    for (const path of rule.paths ?? []) {
      const candidate = planPath(ingress, host, path, {
        attributes,
        regexPaths: annotations.regexPaths,
        resolve,
        diagnostics,
      });
      if (candidate) candidates.push(candidate);
    }
    hosts.add(host);
    rules.push({ host, candidates });
  }

  let defaultBackend: HostDefaultBackend | undefined;
  if (ingress.defaultBackend) {
    const shapeError = checkBackendShape(ingress.defaultBackend);
    if (shapeError) {
      diagnostics.push({ object, code: 'InvalidBackend', reason: `defaultBackend ${shapeError}; it is ignored` });
    } else {
      const resolution = resolve(ingress.defaultBackend);
      if (resolution.diagnostic) diagnostics.push(resolution.diagnostic);
      defaultBackend = { ingress: ingress.key, backend: resolution.backend };
    }
  } else if (ingress.rules.length === 0) {
    diagnostics.push({
      object,
      code: 'EmptyIngress',
      reason: 'the Ingress has neither rules nor a defaultBackend; nothing is served',
    });
  }

  const tls: { host: string; secretKey: string | undefined }[] = [];
  for (const entry of ingress.tls) {
    for (const rawHost of entry.hosts) {
      const checked = validateRuleHost(rawHost);
      if (!checked.ok || checked.host === '') {
        diagnostics.push({
          object,
          code: 'InvalidHost',
          reason: `tls host ${JSON.stringify(rawHost)} is invalid; it is ignored`,
        });
        continue;
      }
      hosts.add(checked.host);
      tls.push({
        host: checked.host,
        secretKey: entry.secretName ? `${ingress.namespace}/${entry.secretName}` : undefined,
      });
    }
  }
  return {
    upstream: upstream.choice,
    attributes,
    rules,
    defaultBackend,
    clusterWideDefault: defaultBackend !== undefined && ingress.rules.length === 0,
    tls: frozenOrNone(tls),
  };
}

interface PathContext {
  readonly attributes: RouteAttributes;
  readonly regexPaths: boolean;
  readonly resolve: (backend: IngressBackendRecord) => BackendResolution;
  readonly diagnostics: Diagnostic[];
}

/**
 * The Ingress's backends resolved once each: paths naming the same Service port share one
 * resolved backend (most Ingresses send every path to one Service).
 */
function backendResolver(
  ingress: IngressRecord,
  recorder: ReadRecorder,
  upstream: UpstreamChoice,
): (backend: IngressBackendRecord) => BackendResolution {
  const resolved = new Map<string, BackendResolution>();
  return (backend) => {
    const service = backend.service;
    if (!service) return resolveBackend(ingress, backend, recorder.services, upstream);
    const key = `${service.name}\u0000${service.port?.number ?? ''}\u0000${service.port?.name ?? ''}`;
    let resolution = resolved.get(key);
    if (resolution === undefined) {
      resolution = resolveBackend(ingress, backend, recorder.services, upstream);
      resolved.set(key, resolution);
    }
    return resolution;
  };
}

function planPath(
  ingress: IngressRecord,
  host: string,
  record: IngressPathRecord,
  context: PathContext,
): CandidateRoute | undefined {
  const { diagnostics } = context;
  const object = `Ingress ${ingress.key}`;
  if (!isPathType(record.pathType)) {
    diagnostics.push({
      object,
      code: 'InvalidPathType',
      reason:
        record.pathType === undefined
          ? `path ${JSON.stringify(record.path ?? '')} has no pathType; the path is skipped`
          : `path ${JSON.stringify(record.path ?? '')} has unknown pathType ${JSON.stringify(record.pathType)}; the path is skipped`,
    });
    return undefined;
  }
  const pathType = record.pathType;
  const path =
    record.path === undefined || record.path === '' ? (pathType === 'ImplementationSpecific' ? '/' : '') : record.path;
  const skip = (code: string, why: string): undefined => {
    diagnostics.push({ object, code, reason: `${why}; the path is skipped` });
    return undefined;
  };
  const shapeError = checkBackendShape(record.backend);
  if (shapeError || !record.backend) return skip('InvalidBackend', `path ${JSON.stringify(path)} ${shapeError}`);
  let pattern: Route['pattern'];
  if (context.regexPaths) {
    const checked = compilePathPattern(path);
    if (!checked.ok) return skip(checked.code, checked.reason);
    const target = context.attributes.rewriteTarget;
    if (target !== undefined && highestGroupReference(target) > checked.groupCount) {
      return skip(
        'InvalidRewriteTarget',
        `rewrite-target ${JSON.stringify(target)} refers to $${highestGroupReference(target)} but path ${JSON.stringify(path)} has ${checked.groupCount} capture group(s)`,
      );
    }
    pattern = checked.pattern;
  } else {
    const checked = validateLiteralPath(path);
    if (!checked.ok) return skip('InvalidPath', checked.reason);
  }
  const resolution = context.resolve(record.backend);
  return {
    key: pathKey(path, pathType),
    route: Object.freeze({
      ingress: ingress.key,
      host,
      path,
      pathType,
      match: pattern ? 'regex' : pathType === 'Exact' ? 'exact' : 'prefix',
      pattern,
      ingressRank: 0,
      backend: resolution.backend,
      attributes: context.attributes,
    }),
    backendDiagnostic: resolution.diagnostic,
  };
}

/**
 * `default-backend`: a Service of the Ingress's namespace, its first port (ingress-nginx's
 * rule), resolved like any backend. A Service that does not exist or has no port is reported
 * and the annotation ignored.
 */
function withDefaultBackend(
  ingress: IngressRecord,
  attributes: RouteAttributes,
  serviceName: string | undefined,
  recorder: ReadRecorder,
  diagnostics: Diagnostic[],
): RouteAttributes {
  if (serviceName === undefined) return attributes;
  const port = recorder.services.get(`${ingress.namespace}/${serviceName}`)?.ports[0]?.port;
  if (port === undefined) {
    diagnostics.push(
      invalidAnnotation(
        ingress,
        'default-backend',
        `names service ${ingress.namespace}/${serviceName}, which does not exist or has no port`,
      ),
    );
    return attributes;
  }
  const resolution = resolveBackend(
    ingress,
    { service: { name: serviceName, port: { number: port, name: undefined } }, resource: undefined },
    recorder.services,
  );
  if (resolution.diagnostic) diagnostics.push(resolution.diagnostic);
  return Object.freeze({ ...attributes, defaultBackend: resolution.backend });
}
