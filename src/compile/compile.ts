// compile(snapshot, options) → { table, diagnostics }: pure, never throws, never does I/O.
// A bad rule, path, annotation or backend yields one diagnostic for that thing; the rest
// of the table still builds (ROUTING.md sections 1-5 and 7).

import type { Diagnostic } from '../model/diagnostic.ts';
import type { IngressPathRecord, IngressRecord } from '../model/records.ts';
import { buildPathLookup } from '../routing/path-lookup.ts';
import { highestGroupReference } from '../routing/rewrite-path.ts';
import type {
  HostDefaultBackend,
  HostRoutes,
  HostTls,
  Route,
  RouteAttributes,
  RouteTable,
  SelectionAttributes,
} from '../routing/route-table.ts';
import type { ClusterSnapshot } from '../store/cluster-snapshot.ts';
import { type CanarySettings, parseCanaryAnnotations } from './annotations/parse-canary-annotations.ts';
import { type IngressAnnotations, parseRouteAnnotations } from './annotations/parse-route-annotations.ts';
import { invalidAnnotation } from './annotations/read-annotation.ts';
import { parseSelectionAnnotations } from './annotations/parse-selection-annotations.ts';
import { type CompileOptions, DEFAULT_COMPILE_OPTIONS } from './compile-options.ts';
import { compilePathPattern } from './compile-path-pattern.ts';
import { compareIngressAge } from './ingress-order.ts';
import { resolveAuth } from './resolve-auth.ts';
import { checkBackendShape, resolveBackend } from './resolve-backend.ts';
import { type UpstreamChoice, upstreamChoiceFor } from './resolve-upstream.ts';
import { decideIngressClass } from './select-ingresses.ts';
import { validateRuleHost } from './validate-host.ts';
import { isPathType, validateLiteralPath } from './validate-path.ts';

export interface CompileResult {
  readonly table: RouteTable;
  readonly diagnostics: readonly Diagnostic[];
}

interface HostBuilder {
  readonly host: string;
  /** keyed by path + pathType; first writer wins because Ingresses arrive oldest first */
  readonly routes: Map<string, Route>;
  defaultBackend: HostDefaultBackend | undefined;
}

// An Ingress's annotations are read once per record: records are deep-frozen and replaced on
// every change, so a record seen by an earlier build gives the same result (and diagnostics)
// again. At 10,000 Ingresses annotation parsing was about a fifth of each rebuild. Keyed
// weakly, so a record the store dropped takes its entry with it.
const routeAnnotationsByRecord = new WeakMap<IngressRecord, IngressAnnotations>();
const canaryAnnotationsByRecord = new WeakMap<
  IngressRecord,
  { readonly settings: CanarySettings | undefined; readonly diagnostics: readonly Diagnostic[] }
>();

function routeAnnotationsOf(ingress: IngressRecord): IngressAnnotations {
  let annotations = routeAnnotationsByRecord.get(ingress);
  if (annotations === undefined) {
    annotations = parseRouteAnnotations(ingress);
    routeAnnotationsByRecord.set(ingress, annotations);
  }
  return annotations;
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

interface IngressContext {
  readonly ingress: IngressRecord;
  readonly rank: number;
  readonly attributes: RouteAttributes;
  readonly regexPaths: boolean;
  readonly upstream: UpstreamChoice;
  readonly object: string;
}

export function compile(snapshot: ClusterSnapshot, options: CompileOptions = DEFAULT_COMPILE_OPTIONS): CompileResult {
  const diagnostics: Diagnostic[] = [];
  const hosts = new Map<string, HostBuilder>();
  const tlsHosts = new Map<string, HostTls>();
  let catchAll: HostDefaultBackend | undefined;
  /** per served Ingress, how its backends are spoken to (canaries borrow their main route's) */
  const upstreamChoices = new Map<string, UpstreamChoice>();
  let routeCount = 0;

  const served: IngressRecord[] = [];
  for (const ingress of snapshot.ingresses.values()) {
    const decision = decideIngressClass(ingress, snapshot.ingressClasses, options);
    if (decision === 'served') served.push(ingress);
    else if (decision === 'unknown-class') {
      diagnostics.push({
        object: `Ingress ${ingress.key}`,
        code: 'UnknownIngressClass',
        reason: `IngressClass ${JSON.stringify(ingress.ingressClassName)} does not exist; the Ingress is not served`,
      });
    }
  }
  served.sort(compareIngressAge);

  function hostBuilder(host: string): HostBuilder {
    let builder = hosts.get(host);
    if (!builder) {
      builder = { host, routes: new Map(), defaultBackend: undefined };
      hosts.set(host, builder);
    }
    return builder;
  }

  function addPath(context: IngressContext, builder: HostBuilder, record: IngressPathRecord): void {
    const { ingress, object } = context;
    if (!isPathType(record.pathType)) {
      diagnostics.push({
        object,
        code: 'InvalidPathType',
        reason:
          record.pathType === undefined
            ? `path ${JSON.stringify(record.path ?? '')} has no pathType; the path is skipped`
            : `path ${JSON.stringify(record.path ?? '')} has unknown pathType ${JSON.stringify(record.pathType)}; the path is skipped`,
      });
      return;
    }
    const pathType = record.pathType;
    const path =
      record.path === undefined || record.path === ''
        ? pathType === 'ImplementationSpecific'
          ? '/'
          : ''
        : record.path;
    const skip = (code: string, why: string): void => {
      diagnostics.push({ object, code, reason: `${why}; the path is skipped` });
    };
    const shapeError = checkBackendShape(record.backend);
    if (shapeError || !record.backend) {
      skip('InvalidBackend', `path ${JSON.stringify(path)} ${shapeError}`);
      return;
    }
    if (routeCount >= options.maxRoutes) {
      skip('TooManyRoutes', `path ${JSON.stringify(path)} exceeds the cap of ${options.maxRoutes} routes`);
      return;
    }
    let pattern: Route['pattern'];
    if (context.regexPaths) {
      const checked = compilePathPattern(path);
      if (!checked.ok) {
        skip(checked.code, checked.reason);
        return;
      }
      const target = context.attributes.rewriteTarget;
      if (target !== undefined && highestGroupReference(target) > checked.groupCount) {
        skip(
          'InvalidRewriteTarget',
          `rewrite-target ${JSON.stringify(target)} refers to $${highestGroupReference(target)} but path ${JSON.stringify(path)} has ${checked.groupCount} capture group(s)`,
        );
        return;
      }
      pattern = checked.pattern;
    } else {
      const checked = validateLiteralPath(path);
      if (!checked.ok) {
        skip('InvalidPath', checked.reason);
        return;
      }
    }
    const dedupeKey = `${path}\u0000${pathType}`;
    const winner = builder.routes.get(dedupeKey);
    if (winner) {
      const where = builder.host === '' ? 'host-less rules' : `host ${builder.host}`;
      diagnostics.push({
        object,
        code: 'DuplicatePath',
        reason:
          winner.ingress === ingress.key
            ? `path ${JSON.stringify(path)} (${pathType}) for ${where} is declared twice in this Ingress; the first is used`
            : `path ${JSON.stringify(path)} (${pathType}) for ${where} is already defined by older Ingress ${winner.ingress}, which wins`,
      });
      return;
    }
    const resolution = resolveBackend(ingress, record.backend, snapshot.services, context.upstream);
    if (resolution.diagnostic) diagnostics.push(resolution.diagnostic);
    routeCount++;
    builder.routes.set(
      dedupeKey,
      Object.freeze({
        ingress: ingress.key,
        host: builder.host,
        path,
        pathType,
        match: pattern ? 'regex' : pathType === 'Exact' ? 'exact' : 'prefix',
        pattern,
        ingressRank: context.rank,
        backend: resolution.backend,
        attributes: context.attributes,
      }),
    );
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
  ): RouteAttributes {
    if (serviceName === undefined) return attributes;
    const port = snapshot.services.get(`${ingress.namespace}/${serviceName}`)?.ports[0]?.port;
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
      snapshot.services,
    );
    if (resolution.diagnostic) diagnostics.push(resolution.diagnostic);
    return Object.freeze({ ...attributes, defaultBackend: resolution.backend });
  }

  // Canary Ingresses add no routes: they attach to main routes once those all exist, so a
  // canary older than its main Ingress still finds it.
  const canaries: { ingress: IngressRecord; settings: CanarySettings; selection: SelectionAttributes }[] = [];
  for (const [rank, ingress] of served.entries()) {
    const object = `Ingress ${ingress.key}`;
    const { settings: canarySettings, diagnostics: canaryDiagnostics } = canaryAnnotationsOf(ingress);
    diagnostics.push(...canaryDiagnostics);
    if (canarySettings) {
      // ingress-nginx: a canary keeps its own affinity, upstream-hash-by and load-balance.
      const selection = parseSelectionAnnotations(ingress, false, diagnostics);
      canaries.push({ ingress, settings: canarySettings, selection });
      continue;
    }
    const annotations = routeAnnotationsOf(ingress);
    diagnostics.push(...annotations.diagnostics);
    const upstream = upstreamChoiceFor(ingress, annotations.attributes, snapshot.secrets);
    diagnostics.push(...upstream.diagnostics);
    upstreamChoices.set(ingress.key, upstream.choice);
    const withDefault = withDefaultBackend(ingress, annotations.attributes, annotations.defaultBackendService);
    const auth = resolveAuth(ingress, snapshot.secrets, diagnostics);
    const attributes = auth === undefined ? withDefault : Object.freeze({ ...withDefault, auth });
    const context: IngressContext = {
      ingress,
      rank,
      attributes,
      regexPaths: annotations.regexPaths,
      upstream: upstream.choice,
      object,
    };
    const definedHosts: string[] = [];
    for (const rule of ingress.rules) {
      const checked = validateRuleHost(rule.host);
      if (!checked.ok) {
        diagnostics.push({ object, code: 'InvalidHost', reason: `${checked.reason}; the rule is skipped` });
        continue;
      }
      const builder = hostBuilder(checked.host);
      if (checked.host !== '') definedHosts.push(checked.host);
      for (const path of rule.paths ?? []) addPath(context, builder, path);
    }

    if (ingress.defaultBackend) {
      const shapeError = checkBackendShape(ingress.defaultBackend);
      if (shapeError) {
        diagnostics.push({ object, code: 'InvalidBackend', reason: `defaultBackend ${shapeError}; it is ignored` });
      } else {
        const resolution = resolveBackend(ingress, ingress.defaultBackend, snapshot.services, context.upstream);
        if (resolution.diagnostic) diagnostics.push(resolution.diagnostic);
        const fallback: HostDefaultBackend = { ingress: ingress.key, backend: resolution.backend };
        if (ingress.rules.length === 0) {
          if (!catchAll) catchAll = fallback;
          else {
            diagnostics.push({
              object,
              code: 'DefaultBackendConflict',
              reason: `the cluster-wide default backend is already set by older Ingress ${catchAll.ingress}, which wins`,
            });
          }
        } else {
          for (const host of definedHosts) {
            const builder = hostBuilder(host);
            if (!builder.defaultBackend) builder.defaultBackend = fallback;
            else if (builder.defaultBackend.ingress !== ingress.key) {
              diagnostics.push({
                object,
                code: 'DefaultBackendConflict',
                reason: `the default backend of host ${host} is already set by older Ingress ${builder.defaultBackend.ingress}, which wins`,
              });
            }
          }
        }
      }
    } else if (ingress.rules.length === 0) {
      diagnostics.push({
        object,
        code: 'EmptyIngress',
        reason: 'the Ingress has neither rules nor a defaultBackend; nothing is served',
      });
    }

    for (const tls of ingress.tls) {
      for (const rawHost of tls.hosts) {
        const checked = validateRuleHost(rawHost);
        if (!checked.ok || checked.host === '') {
          diagnostics.push({
            object,
            code: 'InvalidHost',
            reason: `tls host ${JSON.stringify(rawHost)} is invalid; it is ignored`,
          });
          continue;
        }
        const existing = tlsHosts.get(checked.host);
        if (!existing) {
          tlsHosts.set(checked.host, {
            ingress: ingress.key,
            secretKey: tls.secretName ? `${ingress.namespace}/${tls.secretName}` : undefined,
            attributes: context.attributes,
          });
        } else if (existing.ingress !== ingress.key) {
          diagnostics.push({
            object,
            code: 'TlsConflict',
            reason: `TLS for host ${checked.host} is already set by older Ingress ${existing.ingress}, which wins`,
          });
        }
      }
    }
  }

  for (const { ingress, settings, selection } of canaries) attachCanary(ingress, settings, selection);

  function attachCanary(ingress: IngressRecord, settings: CanarySettings, selection: SelectionAttributes): void {
    const object = `Ingress ${ingress.key}`;
    for (const rule of ingress.rules) {
      const checked = validateRuleHost(rule.host);
      if (!checked.ok) {
        diagnostics.push({ object, code: 'InvalidHost', reason: `${checked.reason}; the rule is skipped` });
        continue;
      }
      const builder = hosts.get(checked.host);
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
        const key = `${path}\u0000${record.pathType ?? ''}`;
        const main = builder?.routes.get(key);
        const where = checked.host === '' ? 'host-less rules' : `host ${checked.host}`;
        if (!builder || !main) {
          diagnostics.push({
            object,
            code: 'CanaryWithoutMain',
            reason: `canary path ${JSON.stringify(path)} (${record.pathType ?? 'no pathType'}) for ${where} has no main Ingress path with the same host, path and pathType; it is dropped`,
          });
          continue;
        }
        if (main.canary) {
          diagnostics.push({
            object,
            code: 'CanaryConflict',
            reason: `path ${JSON.stringify(path)} for ${where} already has canary ${main.canary.ingress}, which wins (one canary per path)`,
          });
          continue;
        }
        // A canary's backend is spoken to as its main route's (ingress-nginx: canary Ingresses
        // take only canary-* annotations of their own).
        const resolution = resolveBackend(
          ingress,
          record.backend,
          snapshot.services,
          upstreamChoices.get(main.ingress),
        );
        if (resolution.diagnostic) diagnostics.push(resolution.diagnostic);
        builder.routes.set(
          key,
          Object.freeze({
            ...main,
            canary: Object.freeze({ ingress: ingress.key, backend: resolution.backend, ...settings, selection }),
          }),
        );
      }
    }
  }

  const exactHosts = new Map<string, HostRoutes>();
  const wildcardHosts = new Map<string, HostRoutes>();
  let hostless: HostRoutes | undefined;
  for (const builder of hosts.values()) {
    const routes = [...builder.routes.values()];
    const entry: HostRoutes = Object.freeze({
      host: builder.host,
      lookup: buildPathLookup(routes),
      routes: Object.freeze(routes),
      defaultBackend: builder.defaultBackend,
      tls: builder.host === '' ? undefined : tlsHosts.get(builder.host),
    });
    if (builder.host === '') hostless = entry;
    else if (builder.host.startsWith('*.')) wildcardHosts.set(builder.host.slice(2), entry);
    else exactHosts.set(builder.host, entry);
  }
  const table: RouteTable = Object.freeze({
    exactHosts,
    wildcardHosts,
    hostless,
    catchAll,
    tlsHosts,
    servedIngresses: Object.freeze(served.map((ingress) => ingress.key)),
    routeCount,
  });
  return { table, diagnostics: Object.freeze(diagnostics) };
}
