// One host's part of the table from the plans of every Ingress that names it, oldest first
// (ROUTING.md section 4): the first Ingress to declare a path keeps it, the oldest default
// backend and TLS entry win, canaries attach to the main routes they match. Nothing here looks
// beyond the host, so a host whose Ingresses are the same plans as last time merges to the
// same result, and compile reuses it.

import type { Diagnostic } from '../model/diagnostic.ts';
import { buildPathLookup } from '../routing/path-lookup.ts';
import type { HostDefaultBackend, HostRoutes, HostTls, Route } from '../routing/route-table.ts';
import type { ClusterSnapshot } from '../store/cluster-snapshot.ts';
import { frozenOrNone, type IngressPlan } from './plan-ingress.ts';
import { resolveBackend } from './resolve-backend.ts';
import { NO_READS, recordReads, type SnapshotReads } from './snapshot-reads.ts';

export interface MergedHost {
  readonly host: string;
  /** the plans merged, oldest first: the same plans give the same result */
  readonly plans: readonly IngressPlan[];
  /** undefined when no main Ingress has a rule for the host (TLS or canary rules only) */
  readonly entry: HostRoutes | undefined;
  readonly tls: HostTls | undefined;
  readonly diagnostics: readonly Diagnostic[];
  readonly routeCount: number;
  /** Services read for canary backends */
  readonly reads: SnapshotReads;
}

/**
 * Whether a candidate route falls beyond the route cap; only set when the cap bites, from the
 * order of every Ingress (compile.ts).
 */
export type RouteCut = (plan: IngressPlan, ruleIndex: number, candidateIndex: number) => boolean;

export function mergeHost(
  host: string,
  plans: readonly IngressPlan[],
  snapshot: Pick<ClusterSnapshot, 'services' | 'secrets'>,
  cut: { readonly isCut: RouteCut; readonly maxRoutes: number } | undefined,
): MergedHost {
  const diagnostics: Diagnostic[] = [];
  const routes = new Map<string, Route>();
  const where = host === '' ? 'host-less rules' : `host ${host}`;
  let defined = false;
  let defaultBackend: HostDefaultBackend | undefined;
  let tls: HostTls | undefined;
  let rank = 0;
  for (const plan of plans) {
    const main = plan.main;
    if (!main) continue;
    const key = plan.ingress.key;
    const object = `Ingress ${key}`;
    let namesHost = false;
    for (const [ruleIndex, rule] of main.rules.entries()) {
      if (rule.host !== host) continue;
      namesHost = true;
      for (const [candidateIndex, candidate] of rule.candidates.entries()) {
        if (cut?.isCut(plan, ruleIndex, candidateIndex)) {
          diagnostics.push({
            object,
            code: 'TooManyRoutes',
            reason: `path ${JSON.stringify(candidate.route.path)} exceeds the cap of ${cut.maxRoutes} routes; the path is skipped`,
          });
          continue;
        }
        const winner = routes.get(candidate.key);
        if (winner) {
          const { path, pathType } = candidate.route;
          diagnostics.push({
            object,
            code: 'DuplicatePath',
            reason:
              winner.ingress === key
                ? `path ${JSON.stringify(path)} (${pathType}) for ${where} is declared twice in this Ingress; the first is used`
                : `path ${JSON.stringify(path)} (${pathType}) for ${where} is already defined by older Ingress ${winner.ingress}, which wins`,
          });
          continue;
        }
        if (candidate.backendDiagnostic) diagnostics.push(candidate.backendDiagnostic);
        routes.set(
          candidate.key,
          rank === 0 ? candidate.route : Object.freeze({ ...candidate.route, ingressRank: rank }),
        );
      }
    }
    if (namesHost) {
      defined = true;
      rank++;
      if (main.defaultBackend && host !== '' && !main.clusterWideDefault) {
        if (!defaultBackend) defaultBackend = main.defaultBackend;
        else {
          diagnostics.push({
            object,
            code: 'DefaultBackendConflict',
            reason: `the default backend of host ${host} is already set by older Ingress ${defaultBackend.ingress}, which wins`,
          });
        }
      }
    }
    for (const entry of main.tls) {
      if (entry.host !== host) continue;
      if (!tls) tls = { ingress: key, secretKey: entry.secretKey, attributes: main.attributes };
      else if (tls.ingress !== key) {
        diagnostics.push({
          object,
          code: 'TlsConflict',
          reason: `TLS for host ${host} is already set by older Ingress ${tls.ingress}, which wins`,
        });
      }
    }
  }

  // Canaries attach once every main route of the host exists, so a canary older than its main
  // Ingress still finds it.
  const recorder = recordReads(snapshot);
  let readServices = false;
  for (const plan of plans) {
    const canary = plan.canary;
    if (!canary) continue;
    const { ingress } = plan;
    const object = `Ingress ${ingress.key}`;
    for (const rule of canary.rules) {
      if (rule.host !== host) continue;
      for (const { key, path, pathType, backend } of rule.paths) {
        const main = routes.get(key);
        if (!defined || !main) {
          diagnostics.push({
            object,
            code: 'CanaryWithoutMain',
            reason: `canary path ${JSON.stringify(path)} (${pathType ?? 'no pathType'}) for ${where} has no main Ingress path with the same host, path and pathType; it is dropped`,
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
        const mainPlan = plans.find((candidate) => candidate.ingress.key === main.ingress);
        readServices = true;
        const resolution = resolveBackend(ingress, backend, recorder.services, mainPlan?.main?.upstream);
        if (resolution.diagnostic) diagnostics.push(resolution.diagnostic);
        routes.set(
          key,
          Object.freeze({
            ...main,
            canary: Object.freeze({
              ingress: ingress.key,
              backend: resolution.backend,
              ...canary.settings,
              selection: canary.selection,
            }),
          }),
        );
      }
    }
  }

  let entry: HostRoutes | undefined;
  if (defined) {
    const list = Object.freeze([...routes.values()]);
    entry = Object.freeze({
      host,
      lookup: buildPathLookup(list),
      routes: list,
      defaultBackend,
      tls: host === '' ? undefined : tls,
    });
  }
  return Object.freeze({
    host,
    plans,
    entry,
    tls,
    diagnostics: frozenOrNone(diagnostics),
    routeCount: routes.size,
    reads: readServices ? recorder.reads() : NO_READS,
  });
}
