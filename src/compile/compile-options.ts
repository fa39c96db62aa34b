export interface CompileOptions {
  /** IngressClass `spec.controller` value we answer to */
  readonly controllerClass: string;
  /** value of the legacy `kubernetes.io/ingress.class` annotation we answer to */
  readonly ingressClass: string;
  readonly watchIngressWithoutClass: boolean;
  /** Cap on paths (plus default backends) across all served Ingresses; the excess is dropped with a diagnostic. */
  readonly maxRoutes: number;
}

export const DEFAULT_CONTROLLER_CLASS = 'portico.dev/ingress-controller';
export const DEFAULT_INGRESS_CLASS = 'portico';
/** Far above what 10,000 Ingresses with a few paths each need; bounds memory against runaway objects. */
export const DEFAULT_MAX_ROUTES = 200_000;

export const DEFAULT_COMPILE_OPTIONS: CompileOptions = Object.freeze({
  controllerClass: DEFAULT_CONTROLLER_CLASS,
  ingressClass: DEFAULT_INGRESS_CLASS,
  watchIngressWithoutClass: false,
  maxRoutes: DEFAULT_MAX_ROUTES,
});
