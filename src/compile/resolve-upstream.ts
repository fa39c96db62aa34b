// How Portico talks to a backend (issue 5 item 4, issue 7 item 4): the Ingress's `backend-protocol` annotation
// when set (ingress-nginx), else the Service port's `appProtocol` (the Service API docs:
// `kubernetes.io/h2c` is HTTP/2 over cleartext with prior knowledge, RFC 9113 section 3.3;
// `https` and `kubernetes.io/wss` are TLS), else HTTP/1.1. `AUTO_HTTP` (ingress-nginx's
// `proxy_pass $scheme://`) follows the client: HTTP/1.1 for plain-HTTP requests, TLS for HTTPS
// ones. TLS towards the backend is not verified unless `proxy-ssl-verify: "on"`, as in
// ingress-nginx; `proxy-ssl-secret` names a TLS Secret whose `ca.crt` holds the trust anchors
// and whose `tls.crt`/`tls.key` are the client certificate Portico presents. Pure: the Secret
// comes from the snapshot.

import { createHash, X509Certificate } from 'node:crypto';
import type { Diagnostic } from '../model/diagnostic.ts';
import type { IngressRecord, SecretRecord } from '../model/records.ts';
import type { BackendProtocol, RouteAttributes, UpstreamProtocol, UpstreamTls } from '../routing/route-table.ts';
import { parseTlsSecret } from '../tls/parse-tls-secret.ts';
import type { RecordLookup } from './snapshot-reads.ts';

/** What an Ingress's annotations say about its backends, before each Service port's appProtocol. */
export interface UpstreamChoice {
  readonly backendProtocol: BackendProtocol | undefined;
  readonly tls: UpstreamTls;
  /** `proxy-connect-timeout` in ms; undefined: the proxy's default */
  readonly connectTimeoutMs?: number | undefined;
  /** `service-upstream: "true"` */
  readonly serviceUpstream?: boolean | undefined;
}

export const DEFAULT_UPSTREAM_TLS: UpstreamTls = Object.freeze({
  verify: false,
  serverName: undefined,
  caPem: undefined,
  clientCertificate: undefined,
  profile: '',
});

export const DEFAULT_UPSTREAM_CHOICE: UpstreamChoice = Object.freeze({
  backendProtocol: undefined,
  tls: DEFAULT_UPSTREAM_TLS,
});

const HTTP1: UpstreamProtocol = Object.freeze({ kind: 'http1' });
const H2C: UpstreamProtocol = Object.freeze({ kind: 'h2c' });
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const CA_KEY = 'ca.crt';

export interface UpstreamChoiceResult {
  readonly choice: UpstreamChoice;
  readonly diagnostics: readonly Diagnostic[];
}

/** The Ingress's upstream settings, with one diagnostic per problem with its `proxy-ssl-secret`. */
export function upstreamChoiceFor(
  ingress: IngressRecord,
  attributes: RouteAttributes,
  secrets: RecordLookup<SecretRecord>,
): UpstreamChoiceResult {
  const diagnostics: Diagnostic[] = [];
  let caPem: string | undefined;
  let clientCertificate: UpstreamTls['clientCertificate'];
  const secretKey = attributes.proxySslSecret;
  if (secretKey !== undefined) {
    const problem = (reason: string): void => {
      diagnostics.push({
        object: `Ingress ${ingress.key}`,
        code: 'InvalidProxySslSecret',
        reason: `proxy-ssl-secret ${secretKey} ${reason}`,
      });
    };
    const secret = secrets.get(secretKey);
    if (secret === undefined) problem('does not exist; backends get no client certificate and no CA from it');
    else {
      const parsed = parseTlsSecret(secret);
      if (parsed.ok) clientCertificate = { certPem: parsed.certificate.certPem, keyPem: parsed.certificate.keyPem };
      else problem(`${parsed.reason}; backends get no client certificate from it`);
      const ca = secret.data[CA_KEY];
      if (ca !== undefined) {
        if (isCertificateBundle(ca)) caPem = ca;
        else problem(`${CA_KEY} is not a PEM certificate bundle; it is ignored`);
      }
    }
  }
  const settings = {
    verify: attributes.proxySslVerify,
    serverName: attributes.proxySslName,
    caPem,
    clientCertificate,
  };
  const isDefault =
    !settings.verify && settings.serverName === undefined && caPem === undefined && clientCertificate === undefined;
  const profile = isDefault ? '' : createHash('sha256').update(JSON.stringify(settings)).digest('hex').slice(0, 16);
  return {
    choice: Object.freeze({
      backendProtocol: attributes.backendProtocol,
      tls: isDefault ? DEFAULT_UPSTREAM_TLS : Object.freeze({ ...settings, profile }),
      connectTimeoutMs: attributes.proxyConnectTimeoutMs,
      serviceUpstream: attributes.serviceUpstream,
    }),
    diagnostics,
  };
}

function isCertificateBundle(pem: string): boolean {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) return false;
  try {
    for (const block of blocks) new X509Certificate(block);
    return true;
  } catch {
    return false;
  }
}

/**
 * The protocol for one backend: the annotation wins, then the Service port's appProtocol; with
 * the route's connect timeout, which gives it pools of its own.
 */
export function chooseUpstream(choice: UpstreamChoice, appProtocol: string | undefined): UpstreamProtocol {
  return withConnectTimeout(choice, chooseProtocol(choice, appProtocol));
}

/** The backend's protocols: `upstreamWhenTls` only for `AUTO_HTTP`, whose TLS requests go over TLS. */
export function chooseUpstreams(
  choice: UpstreamChoice,
  appProtocol: string | undefined,
): { readonly upstream: UpstreamProtocol; readonly upstreamWhenTls?: UpstreamProtocol } {
  const upstream = chooseUpstream(choice, appProtocol);
  if (choice.backendProtocol !== 'AUTO_HTTP') return { upstream };
  return { upstream, upstreamWhenTls: withConnectTimeout(choice, { kind: 'https', tls: choice.tls }) };
}

function withConnectTimeout(choice: UpstreamChoice, protocol: UpstreamProtocol): UpstreamProtocol {
  const connectTimeoutMs = choice.connectTimeoutMs;
  return connectTimeoutMs === undefined ? protocol : Object.freeze({ ...protocol, connectTimeoutMs });
}

function chooseProtocol(choice: UpstreamChoice, appProtocol: string | undefined): UpstreamProtocol {
  const https: UpstreamProtocol = { kind: 'https', tls: choice.tls };
  switch (choice.backendProtocol) {
    case 'HTTPS':
      return https;
    case 'HTTP':
    case 'AUTO_HTTP': // plain-HTTP requests; TLS ones take chooseUpstreams' upstreamWhenTls
      return HTTP1;
    // gRPC is HTTP/2 with trailers (grpc/PROTOCOL-HTTP2.md): cleartext with prior knowledge,
    // or TLS offering ALPN h2, as nginx's grpc_pass grpc:// and grpcs://.
    case 'GRPC':
      return H2C;
    case 'GRPCS':
      return { ...https, http2: true };
    case undefined:
      break;
  }
  switch (appProtocol?.toLowerCase()) {
    case 'https':
    case 'kubernetes.io/wss':
      return https;
    case 'kubernetes.io/h2c':
      return H2C;
    default:
      return HTTP1;
  }
}
