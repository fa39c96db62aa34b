// compile, then the TLS step, as one compiler for the control loop: the certificates travel
// in the table they were bound for, so a table swap swaps routes and certificates together,
// and TLS diagnostics join compile's on their way to logs, /metrics and Events.

import type { compile } from '../compile/compile.ts';
import { bindCertificates } from './bind-certificates.ts';
import { SecureContextCache } from './secure-context-cache.ts';

export type Compiler = typeof compile;

export interface TlsStepOptions {
  /** `ns/name` of --default-ssl-certificate */
  readonly defaultCertificateSecret: string | undefined;
  /** epoch milliseconds (default `Date.now`) */
  readonly now?: () => number;
  readonly contexts?: SecureContextCache;
}

export function compileWithTls(compile: Compiler, options: TlsStepOptions): Compiler {
  const contexts = options.contexts ?? new SecureContextCache();
  const now = options.now ?? Date.now;
  return (snapshot, compileOptions, previous) => {
    const result = compile(snapshot, compileOptions, previous);
    const bound = bindCertificates(result.table.tlsHosts, snapshot.secrets, {
      nowMs: now(),
      defaultCertificateSecret: options.defaultCertificateSecret,
      contexts,
    });
    return {
      table: Object.freeze({ ...result.table, certificates: bound.certificates }),
      diagnostics: Object.freeze([...result.diagnostics, ...bound.diagnostics]),
      reusable: result.reusable,
    };
  };
}
