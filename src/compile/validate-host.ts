// Rule host validation (IngressRule.host field docs; KEP 1453 "Hostname wildcards").

export type HostCheck = { readonly ok: true; readonly host: string } | { readonly ok: false; readonly reason: string };

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
export const MAX_HOST_LENGTH = 253;

/** '' means host-less. Uppercase is normalized, not rejected. */
export function validateRuleHost(raw: string | undefined): HostCheck {
  if (raw === undefined || raw === '') return { ok: true, host: '' };
  const host = raw.toLowerCase();
  if (host.length > MAX_HOST_LENGTH) return { ok: false, reason: `host is longer than ${MAX_HOST_LENGTH} characters` };
  if (host === '*') return { ok: false, reason: 'host "*" alone is not allowed; omit host to match every host' };
  if (IPV4.test(host) || host.includes(':'))
    return { ok: false, reason: `host ${JSON.stringify(raw)} is an IP address; hosts must be DNS names` };
  const labels = host.split('.');
  for (const [index, label] of labels.entries()) {
    if (label === '*') {
      if (index !== 0) return { ok: false, reason: `host ${JSON.stringify(raw)}: "*" must be the whole first label` };
      if (labels.length < 2) return { ok: false, reason: `host ${JSON.stringify(raw)}: a wildcard needs a suffix` };
      continue;
    }
    if (!LABEL.test(label)) return { ok: false, reason: `host ${JSON.stringify(raw)} is not a valid DNS name` };
  }
  return { ok: true, host };
}
