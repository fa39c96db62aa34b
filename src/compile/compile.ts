// compile(snapshot, options, previous?) → { table, diagnostics }: pure, never throws, never does
// I/O. A bad rule, path, annotation or backend yields one diagnostic for that thing; the rest
// of the table still builds (ROUTING.md sections 1-5 and 7).
//
// Two stages: each served Ingress is planned alone (plan-ingress.ts), then each host merges
// the plans that name it, oldest first (merge-host.ts). Given the previous result, compile
// keeps every plan whose Ingress record, and the Services and Secrets it read, are the same
// objects as then (records are immutable and replaced on change), and every host whose plans
// are all kept: a change to one Ingress re-plans that Ingress and re-merges its hosts instead
// of the whole table. The result equals a compile without `previous`
// (test/compile/incremental-compile.property.test.ts).

import type { Diagnostic } from '../model/diagnostic.ts';
import type { ObjectKey } from '../model/records.ts';
import type { HostDefaultBackend, HostRoutes, HostTls, RouteTable } from '../routing/route-table.ts';
import type { ClusterSnapshot } from '../store/cluster-snapshot.ts';
import { type CompileOptions, DEFAULT_COMPILE_OPTIONS } from './compile-options.ts';
import { compareIngressAge } from './ingress-order.ts';
import { type MergedHost, mergeHost, type RouteCut } from './merge-host.ts';
import { type IngressPlan, planIngress } from './plan-ingress.ts';
import { decideIngressClass } from './select-ingresses.ts';
import { readsStillHold } from './snapshot-reads.ts';

export interface CompileResult {
  readonly table: RouteTable;
  readonly diagnostics: readonly Diagnostic[];
  /** what a later compile may reuse: pass this result as its `previous` */
  readonly reusable?: CompileReusable | undefined;
}

/** The intermediate results of a compile; never changed after, read only by the next compile. */
export interface CompileReusable {
  readonly services: ClusterSnapshot['services'];
  readonly secrets: ClusterSnapshot['secrets'];
  /** keys of the served Ingresses, oldest first */
  readonly servedKeys: readonly ObjectKey[];
  /** their plans, in the same order */
  readonly orderedPlans: readonly IngressPlan[];
  readonly plans: ReadonlyMap<ObjectKey, IngressPlan>;
  readonly hosts: ReadonlyMap<string, MergedHost>;
  /** hosts whose merge reported something */
  readonly hostsWithDiagnostics: ReadonlySet<string>;
  readonly exactHosts: ReadonlyMap<string, HostRoutes>;
  readonly wildcardHosts: ReadonlyMap<string, HostRoutes>;
  readonly tlsHosts: ReadonlyMap<string, HostTls>;
  readonly hostless: HostRoutes | undefined;
  readonly routeCount: number;
  /** the route cap cut routes: hosts were merged with the cut, and are not reused */
  readonly capped: boolean;
}

const NOTHING_TO_REUSE: CompileReusable = Object.freeze({
  services: new Map(),
  secrets: new Map(),
  servedKeys: [],
  orderedPlans: [],
  plans: new Map(),
  hosts: new Map(),
  hostsWithDiagnostics: new Set<string>(),
  exactHosts: new Map(),
  wildcardHosts: new Map(),
  tlsHosts: new Map(),
  hostless: undefined,
  routeCount: 0,
  capped: false,
});

const byAge = (a: IngressPlan, b: IngressPlan): number => compareIngressAge(a.ingress, b.ingress);

export function compile(
  snapshot: ClusterSnapshot,
  options: CompileOptions = DEFAULT_COMPILE_OPTIONS,
  previous?: CompileResult,
): CompileResult {
  const before = previous?.reusable ?? NOTHING_TO_REUSE;
  const diagnostics: Diagnostic[] = [];

  // The store copies only the collections a change touches: the same Map means no Service
  // (or Secret) changed, and what every kept plan read still holds.
  const readsUnchanged = before.services === snapshot.services && before.secrets === snapshot.secrets;
  /** plans made in this compile */
  const fresh: IngressPlan[] = [];
  /** hosts that a new, changed or dropped plan names: their merge is redone */
  const changedHosts = new Set<string>();
  let carried = 0;
  let orderKept = true;
  for (const ingress of snapshot.ingresses.values()) {
    const decision = decideIngressClass(ingress, snapshot.ingressClasses, options);
    if (decision !== 'served') {
      if (decision === 'unknown-class') {
        diagnostics.push({
          object: `Ingress ${ingress.key}`,
          code: 'UnknownIngressClass',
          reason: `IngressClass ${JSON.stringify(ingress.ingressClassName)} does not exist; the Ingress is not served`,
        });
      }
      continue;
    }
    const old = before.plans.get(ingress.key);
    if (old !== undefined) carried++;
    if (old?.ingress === ingress && (readsUnchanged || readsStillHold(old.reads, snapshot))) continue;
    const plan = planIngress(ingress, snapshot);
    fresh.push(plan);
    for (const host of plan.hosts) changedHosts.add(host);
    if (old === undefined) orderKept = false;
    else {
      for (const host of old.hosts) changedHosts.add(host);
      if (compareIngressAge(old.ingress, ingress) !== 0) orderKept = false;
    }
  }
  const dropped: IngressPlan[] = [];
  if (carried < before.plans.size) {
    // Ingresses served before and not now (deleted, or their class changed): their hosts lose them.
    for (const [key, old] of before.plans) {
      const ingress = snapshot.ingresses.get(key);
      if (ingress === undefined || decideIngressClass(ingress, snapshot.ingressClasses, options) !== 'served') {
        dropped.push(old);
        for (const host of old.hosts) changedHosts.add(host);
      }
    }
  }

  let plans: ReadonlyMap<ObjectKey, IngressPlan> = before.plans;
  if (fresh.length > 0 || dropped.length > 0) {
    const next = new Map(before.plans);
    for (const plan of dropped) next.delete(plan.ingress.key);
    for (const plan of fresh) next.set(plan.ingress.key, plan);
    plans = next;
  }
  fresh.sort(byAge);
  let servedKeys = before.servedKeys;
  let orderedPlans = before.orderedPlans;
  if (orderKept && dropped.length === 0) {
    if (fresh.length > 0) orderedPlans = servedKeys.map((key) => plans.get(key) as IngressPlan);
  } else if (before.plans.size === 0) {
    orderedPlans = fresh;
    servedKeys = Object.freeze(fresh.map((plan) => plan.ingress.key));
  } else {
    orderedPlans = mergeByAge(
      before.orderedPlans.filter((plan) => plans.has(plan.ingress.key) && !changedAge(plan, plans)),
      fresh.filter(
        (plan) =>
          !before.plans.has(plan.ingress.key) || changedAge(before.plans.get(plan.ingress.key) as IngressPlan, plans),
      ),
    ).map((plan) => plans.get(plan.ingress.key) as IngressPlan);
    servedKeys = Object.freeze(orderedPlans.map((plan) => plan.ingress.key));
  }

  let catchAll: HostDefaultBackend | undefined;
  for (const plan of orderedPlans) {
    if (plan.diagnostics.length > 0) diagnostics.push(...plan.diagnostics);
    const main = plan.main;
    if (!main?.clusterWideDefault) continue;
    if (!catchAll) catchAll = main.defaultBackend;
    else {
      diagnostics.push({
        object: `Ingress ${plan.ingress.key}`,
        code: 'DefaultBackendConflict',
        reason: `the cluster-wide default backend is already set by older Ingress ${catchAll.ingress}, which wins`,
      });
    }
  }

  if (!readsUnchanged) {
    // Canary backends read Services when their host merged.
    for (const [host, merged] of before.hosts) {
      if (!readsStillHold(merged.reads, snapshot)) changedHosts.add(host);
    }
  }
  // The route cap looks across hosts: when it bites, or did, every host is merged again.
  const everyHost = (): Set<string> => new Set(orderedPlans.flatMap((plan) => plan.hosts));
  let hosts = before.capped
    ? mergeChangedHosts(NOTHING_TO_REUSE, everyHost(), plans, orderedPlans, snapshot)
    : mergeChangedHosts(before, changedHosts, plans, fresh, snapshot);
  const capped = hosts.routeCount > options.maxRoutes;
  if (capped) {
    hosts = mergeChangedHosts(NOTHING_TO_REUSE, everyHost(), plans, orderedPlans, snapshot, {
      isCut: routeCutAt(orderedPlans, options.maxRoutes),
      maxRoutes: options.maxRoutes,
    });
  }
  // Host problems come after the Ingresses' own, by host name: the same order however the
  // hosts were reached.
  for (const host of [...hosts.hostsWithDiagnostics].sort()) {
    diagnostics.push(...(hosts.hosts.get(host) as MergedHost).diagnostics);
  }

  const table: RouteTable = Object.freeze({
    exactHosts: hosts.exactHosts,
    wildcardHosts: hosts.wildcardHosts,
    hostless: hosts.hostless,
    catchAll,
    tlsHosts: hosts.tlsHosts,
    servedIngresses: servedKeys,
    routeCount: hosts.routeCount,
  });
  return {
    table,
    diagnostics: Object.freeze(diagnostics),
    reusable: Object.freeze({
      hosts: hosts.hosts,
      hostsWithDiagnostics: hosts.hostsWithDiagnostics,
      exactHosts: hosts.exactHosts,
      wildcardHosts: hosts.wildcardHosts,
      tlsHosts: hosts.tlsHosts,
      hostless: hosts.hostless,
      routeCount: hosts.routeCount,
      services: snapshot.services,
      secrets: snapshot.secrets,
      servedKeys,
      orderedPlans,
      plans,
      capped,
    }),
  };
}

/** a plan replaced by one whose Ingress has another creation time: it moves in the order */
function changedAge(old: IngressPlan, plans: ReadonlyMap<ObjectKey, IngressPlan>): boolean {
  const now = plans.get(old.ingress.key);
  return now !== undefined && now !== old && compareIngressAge(old.ingress, now.ingress) !== 0;
}

const NO_PLANS: readonly IngressPlan[] = Object.freeze([]);

/** two lists sorted oldest first → one (either list itself when the other is empty) */
function mergeByAge(a: readonly IngressPlan[], b: readonly IngressPlan[]): readonly IngressPlan[] {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const merged: IngressPlan[] = [];
  let next = 0;
  for (const plan of a) {
    while (next < b.length && byAge(b[next] as IngressPlan, plan) < 0) merged.push(b[next++] as IngressPlan);
    merged.push(plan);
  }
  while (next < b.length) merged.push(b[next++] as IngressPlan);
  return merged;
}

type HostsResult = Pick<
  CompileReusable,
  'hosts' | 'hostsWithDiagnostics' | 'exactHosts' | 'wildcardHosts' | 'tlsHosts' | 'hostless' | 'routeCount'
>;

/**
 * The previous hosts with the changed ones merged again, each from its plans that are still
 * current plus the `fresh` plans (oldest first) that name it. The maps are copied, not
 * changed: the previous table still serves requests.
 */
function mergeChangedHosts(
  before: HostsResult,
  changedHosts: ReadonlySet<string>,
  plans: ReadonlyMap<ObjectKey, IngressPlan>,
  fresh: readonly IngressPlan[],
  snapshot: ClusterSnapshot,
  cut?: Parameters<typeof mergeHost>[3],
): HostsResult {
  if (changedHosts.size === 0) return before;
  const freshByHost = new Map<string, IngressPlan[]>();
  for (const plan of fresh) {
    for (const host of plan.hosts) {
      const list = freshByHost.get(host);
      if (list) list.push(plan);
      else freshByHost.set(host, [plan]);
    }
  }
  const hosts = new Map(before.hosts);
  const hostsWithDiagnostics = new Set(before.hostsWithDiagnostics);
  const exactHosts = new Map(before.exactHosts);
  const wildcardHosts = new Map(before.wildcardHosts);
  const tlsHosts = new Map(before.tlsHosts);
  let hostless = before.hostless;
  let routeCount = before.routeCount;
  for (const host of changedHosts) {
    const old = before.hosts.get(host);
    const kept = old === undefined ? NO_PLANS : old.plans.filter((plan) => plans.get(plan.ingress.key) === plan);
    const hostPlans = mergeByAge(kept, freshByHost.get(host) ?? NO_PLANS);
    if (old) routeCount -= old.routeCount;
    const merged = hostPlans.length === 0 ? undefined : mergeHost(host, hostPlans, snapshot, cut);
    if (merged) {
      hosts.set(host, merged);
      routeCount += merged.routeCount;
    } else hosts.delete(host);
    if (merged && merged.diagnostics.length > 0) hostsWithDiagnostics.add(host);
    else hostsWithDiagnostics.delete(host);
    if (merged?.tls) tlsHosts.set(host, merged.tls);
    else tlsHosts.delete(host);
    const entry = merged?.entry;
    if (host === '') hostless = entry;
    else {
      const wildcard = host.startsWith('*.');
      const map = wildcard ? wildcardHosts : exactHosts;
      const key = wildcard ? host.slice(2) : host;
      if (entry) map.set(key, entry);
      else map.delete(key);
    }
  }
  return { hosts, hostsWithDiagnostics, exactHosts, wildcardHosts, tlsHosts, hostless, routeCount };
}

/**
 * The route cap (options.maxRoutes): the oldest Ingresses keep their paths, in the order they
 * declare them; every path from the first one that would exceed the cap on is cut.
 */
function routeCutAt(orderedPlans: readonly IngressPlan[], maxRoutes: number): RouteCut {
  const keysByHost = new Map<string, Set<string>>();
  let count = 0;
  let cutPlan = orderedPlans.length;
  let cutRule = 0;
  let cutCandidate = 0;
  search: for (const [planIndex, plan] of orderedPlans.entries()) {
    for (const [ruleIndex, rule] of (plan.main?.rules ?? []).entries()) {
      let keys = keysByHost.get(rule.host);
      if (!keys) {
        keys = new Set();
        keysByHost.set(rule.host, keys);
      }
      for (const [candidateIndex, candidate] of rule.candidates.entries()) {
        if (count >= maxRoutes) {
          [cutPlan, cutRule, cutCandidate] = [planIndex, ruleIndex, candidateIndex];
          break search;
        }
        if (!keys.has(candidate.key)) {
          keys.add(candidate.key);
          count++;
        }
      }
    }
  }
  const indexOf = new Map(orderedPlans.map((plan, index) => [plan, index]));
  return (plan, ruleIndex, candidateIndex) => {
    const planIndex = indexOf.get(plan) ?? -1;
    if (planIndex !== cutPlan) return planIndex > cutPlan;
    return ruleIndex > cutRule || (ruleIndex === cutRule && candidateIndex >= cutCandidate);
  };
}
