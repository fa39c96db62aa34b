// An Ingress backend → where traffic goes (ROUTING.md section 6), checked against Services.
// Endpoints are not resolved here: they change without recompiling.

import { isIP } from 'node:net';
import type { Diagnostic } from '../model/diagnostic.ts';
import type { IngressBackendRecord, IngressRecord, ServiceRecord } from '../model/records.ts';
import type { BackendRef, ResolvedBackend } from '../routing/route-table.ts';
import type { RecordLookup } from './snapshot-reads.ts';
import { chooseUpstreams, DEFAULT_UPSTREAM_CHOICE, type UpstreamChoice } from './resolve-upstream.ts';

export interface BackendResolution {
  readonly backend: ResolvedBackend;
  readonly diagnostic: Diagnostic | undefined;
}

/** Shape errors that make the path itself invalid (skipped), as opposed to a 503 backend. */
export function checkBackendShape(backend: IngressBackendRecord | undefined): string | undefined {
  if (!backend) return 'has no backend';
  if (backend.service && backend.resource) return 'backend sets both service and resource';
  if (!backend.service && !backend.resource) return 'backend sets neither service nor resource';
  if (backend.service) {
    if (!backend.service.name) return 'backend service has no name';
    const port = backend.service.port;
    if (!port || (port.number === undefined && port.name === undefined))
      return 'backend service port sets neither number nor name';
    if (port.number !== undefined && port.name !== undefined) return 'backend service port sets both number and name';
    if (port.number !== undefined && (port.number < 1 || port.number > 65535))
      return `backend service port ${port.number} is out of range`;
  }
  return undefined;
}

export function resolveBackend(
  ingress: IngressRecord,
  backend: IngressBackendRecord,
  services: RecordLookup<ServiceRecord>,
  upstream: UpstreamChoice = DEFAULT_UPSTREAM_CHOICE,
): BackendResolution {
  const object = `Ingress ${ingress.key}`;
  if (!backend.service) {
    const resource = backend.resource;
    const reason = `resource backend ${resource?.kind ?? ''}/${resource?.name ?? ''} is not supported; requests get 503`;
    return {
      backend: { kind: 'unavailable', ref: undefined, reason },
      diagnostic: { object, code: 'UnsupportedBackend', reason },
    };
  }
  const portSpec = backend.service.port;
  const ref: BackendRef = {
    namespace: ingress.namespace,
    service: backend.service.name,
    port: portSpec?.number ?? portSpec?.name ?? '',
  };
  const serviceKey = `${ingress.namespace}/${backend.service.name}`;
  const service = services.get(serviceKey);
  if (!service) {
    return unavailable(ref, object, 'ServiceNotFound', `service ${serviceKey} does not exist; requests get 503`);
  }
  const servicePort = service.ports.find((port) =>
    typeof ref.port === 'number' ? port.port === ref.port : port.name === ref.port,
  );
  if (!servicePort) {
    return unavailable(
      ref,
      object,
      'ServicePortNotFound',
      `service ${serviceKey} has no port ${ref.port}; requests get 503`,
    );
  }
  const upstreams = chooseUpstreams(upstream, servicePort.appProtocol);
  if (service.type === 'ExternalName') {
    if (!service.externalName) {
      return unavailable(
        ref,
        object,
        'InvalidExternalName',
        `ExternalName service ${serviceKey} has no externalName; requests get 503`,
      );
    }
    return {
      backend: {
        kind: 'external-name',
        ref,
        hostname: service.externalName,
        port: servicePort.port,
        ...upstreams,
      },
      diagnostic: undefined,
    };
  }
  let diagnostic: Diagnostic | undefined;
  if (upstream.serviceUpstream) {
    const clusterIP = service.clusterIP;
    if (clusterIP !== undefined && isIP(clusterIP) !== 0) {
      return {
        backend: { kind: 'cluster-ip', ref, address: clusterIP, port: servicePort.port, ...upstreams },
        diagnostic: undefined,
      };
    }
    // A headless Service has no virtual IP to send to: its endpoints it is.
    diagnostic = {
      object,
      code: 'InvalidAnnotation',
      reason: `annotation nginx.ingress.kubernetes.io/service-upstream needs a ClusterIP, and service ${serviceKey} has ${clusterIP === undefined ? 'none' : `clusterIP ${clusterIP}`}; the annotation is ignored for it and its endpoints are used`,
    };
  }
  return {
    backend: {
      kind: 'service',
      ref,
      serviceKey: service.key,
      servicePortName: servicePort.name,
      servicePort: servicePort.port,
      targetPortNumber: typeof servicePort.targetPort === 'number' ? servicePort.targetPort : undefined,
      appProtocol: servicePort.appProtocol,
      sessionAffinity: service.sessionAffinity,
      serviceUid: service.uid,
      ...upstreams,
    },
    diagnostic,
  };
}

function unavailable(ref: BackendRef, object: string, code: string, reason: string): BackendResolution {
  return { backend: { kind: 'unavailable', ref, reason }, diagnostic: { object, code, reason } };
}
