// Which Ingresses are ours (ROUTING.md section 1). Others belong to another controller and
// are skipped silently; the caller may log them at debug level.

import type { IngressClassRecord, IngressRecord } from '../model/records.ts';
import type { ClusterSnapshot } from '../store/cluster-snapshot.ts';
import type { CompileOptions } from './compile-options.ts';

const LEGACY_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';

export type ClassDecision = 'served' | 'other-controller' | 'unknown-class' | 'no-class';

export function decideIngressClass(
  ingress: IngressRecord,
  classes: ReadonlyMap<string, IngressClassRecord>,
  options: CompileOptions,
): ClassDecision {
  if (ingress.ingressClassName !== undefined) {
    const ingressClass = classes.get(ingress.ingressClassName);
    if (!ingressClass) return 'unknown-class';
    return ingressClass.controller === options.controllerClass ? 'served' : 'other-controller';
  }
  const legacy = ingress.annotations[LEGACY_CLASS_ANNOTATION];
  if (legacy !== undefined) return legacy === options.ingressClass ? 'served' : 'other-controller';
  if (options.watchIngressWithoutClass) return 'served';
  for (const ingressClass of classes.values()) {
    if (ingressClass.isDefaultClass && ingressClass.controller === options.controllerClass) return 'served';
  }
  return 'no-class';
}

export function selectServedIngresses(snapshot: ClusterSnapshot, options: CompileOptions): IngressRecord[] {
  const served: IngressRecord[] = [];
  for (const ingress of snapshot.ingresses.values()) {
    if (decideIngressClass(ingress, snapshot.ingressClasses, options) === 'served') served.push(ingress);
  }
  return served;
}
