// The canary annotations of one Ingress (ROUTING.md section 7; ingress-nginx
// docs/examples/canary). A canary Ingress adds no routes: compile attaches its paths to the
// main routes with the same host, path and pathType.

import RE2 from 're2';
import type { Diagnostic } from '../../model/diagnostic.ts';
import type { IngressRecord } from '../../model/records.ts';
import type { HeaderPattern } from '../../routing/route-table.ts';
import { CANARY_ANNOTATIONS } from './annotation-registry.ts';
import { invalidAnnotation, readAnnotation } from './read-annotation.ts';

export interface CanarySettings {
  /** lowercase header name */
  readonly byHeader: string | undefined;
  readonly byHeaderValue: string | undefined;
  readonly byHeaderPattern: HeaderPattern | undefined;
  readonly byCookie: string | undefined;
  readonly weight: number;
  readonly weightTotal: number;
}

const DEFAULT_WEIGHT_TOTAL = 100;

/** undefined when the Ingress is not a canary */
export function parseCanaryAnnotations(ingress: IngressRecord, diagnostics: Diagnostic[]): CanarySettings | undefined {
  if (readAnnotation(ingress, CANARY_ANNOTATIONS.canary, diagnostics) !== true) return undefined;
  const byHeader = readAnnotation(ingress, CANARY_ANNOTATIONS.byHeader, diagnostics)?.toLowerCase();
  const byHeaderValue = readAnnotation(ingress, CANARY_ANNOTATIONS.byHeaderValue, diagnostics);
  const rawPattern = readAnnotation(ingress, CANARY_ANNOTATIONS.byHeaderPattern, diagnostics);
  let byHeaderPattern: HeaderPattern | undefined;
  if (rawPattern !== undefined) {
    try {
      // RE2: linear time whatever the pattern; unanchored search, as ngx.re.match does.
      const compiled = new RE2(rawPattern);
      byHeaderPattern = Object.freeze({ source: rawPattern, test: (value: string) => compiled.test(value) });
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      diagnostics.push(
        invalidAnnotation(
          ingress,
          CANARY_ANNOTATIONS.byHeaderPattern.name,
          `is not a linear-time (RE2) regex: ${detail}`,
        ),
      );
    }
  }
  const byCookie = readAnnotation(ingress, CANARY_ANNOTATIONS.byCookie, diagnostics);
  let weightTotal = readAnnotation(ingress, CANARY_ANNOTATIONS.weightTotal, diagnostics) ?? DEFAULT_WEIGHT_TOTAL;
  if (weightTotal === 0) {
    diagnostics.push(invalidAnnotation(ingress, CANARY_ANNOTATIONS.weightTotal.name, 'must be at least 1'));
    weightTotal = DEFAULT_WEIGHT_TOTAL;
  }
  let weight = readAnnotation(ingress, CANARY_ANNOTATIONS.weight, diagnostics) ?? 0;
  if (weight > weightTotal) {
    diagnostics.push(
      invalidAnnotation(
        ingress,
        CANARY_ANNOTATIONS.weight.name,
        `${weight} is more than canary-weight-total ${weightTotal}`,
      ),
    );
    weight = 0;
  }
  return Object.freeze({ byHeader, byHeaderValue, byHeaderPattern, byCookie, weight, weightTotal });
}
