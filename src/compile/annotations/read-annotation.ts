// Reads one annotation through its spec: absent → undefined; a bad value → one diagnostic
// naming the annotation and the reason, and undefined (the annotation is ignored).

import type { Diagnostic } from '../../model/diagnostic.ts';
import type { IngressRecord } from '../../model/records.ts';
import { type AnnotationSpec, NGINX_PREFIX } from './annotation-registry.ts';

export function readAnnotation<T>(
  ingress: IngressRecord,
  spec: AnnotationSpec<T>,
  diagnostics: Diagnostic[],
): T | undefined {
  const raw = ingress.annotations[NGINX_PREFIX + spec.name];
  if (raw === undefined) return undefined;
  const parsed = spec.parse(raw);
  if (parsed.ok) return parsed.value;
  diagnostics.push(invalidAnnotation(ingress, spec.name, parsed.reason));
  return undefined;
}

export function invalidAnnotation(ingress: IngressRecord, name: string, reason: string): Diagnostic {
  return {
    object: `Ingress ${ingress.key}`,
    code: 'InvalidAnnotation',
    reason: `annotation ${NGINX_PREFIX}${name} ${reason}; the annotation is ignored`,
  };
}
