// `upstream-hash-by`: the nginx variables Portico evaluates to build a request's hash key, and
// the template they sit in. A small, fixed subset: the client address, the request URI as
// received, one request header, one cookie, with literal text between them
// (`$request_uri$http_x_user`, `user-${cookie_sid}`). Any other variable is refused at compile
// time, so the proxy never meets a variable it cannot evaluate.

import { readCookie } from './canary-verdict.ts';

export type HashKeyPart =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'remote-addr' }
  | { readonly kind: 'request-uri' }
  /** lowercase header name with dashes: `$http_x_user` reads `x-user` (nginx's mapping) */
  | { readonly kind: 'header'; readonly name: string }
  | { readonly kind: 'cookie'; readonly name: string };

export interface HashKeyTemplate {
  readonly source: string;
  readonly parts: readonly HashKeyPart[];
}

export interface HashKeyFacts {
  readonly clientIp: string;
  /** the request target as received (nginx `$request_uri`: path and query, before normalizing) */
  readonly requestUri: string;
  readonly header: (name: string) => string | undefined;
}

const MAX_TEMPLATE_LENGTH = 256;
// nginx variable names: `$name` takes letters, digits and `_`; `${name}` delimits one.
const VARIABLE = /\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g;
const LITERAL = /^[\x21-\x23\x25-\x7e]*$/;

export type HashKeyParse =
  { readonly ok: true; readonly template: HashKeyTemplate } | { readonly ok: false; readonly reason: string };

function variablePart(name: string): HashKeyPart | undefined {
  if (name === 'remote_addr') return { kind: 'remote-addr' };
  if (name === 'request_uri') return { kind: 'request-uri' };
  if (name.startsWith('http_') && name.length > 5)
    return { kind: 'header', name: name.slice(5).toLowerCase().replaceAll('_', '-') };
  if (name.startsWith('cookie_') && name.length > 7) return { kind: 'cookie', name: name.slice(7) };
  return undefined;
}

export function parseHashKeyTemplate(raw: string): HashKeyParse {
  if (raw.length === 0 || raw.length > MAX_TEMPLATE_LENGTH)
    return { ok: false, reason: `must be 1-${MAX_TEMPLATE_LENGTH} characters` };
  const parts: HashKeyPart[] = [];
  let last = 0;
  let variables = 0;
  const literal = (text: string): string | undefined => {
    if (!LITERAL.test(text))
      return `has ${JSON.stringify(text)}: literal text must be printable ASCII without spaces or $`;
    if (text.length > 0) parts.push({ kind: 'literal', text });
    return undefined;
  };
  for (const match of raw.matchAll(VARIABLE)) {
    const problem = literal(raw.slice(last, match.index));
    if (problem !== undefined) return { ok: false, reason: problem };
    const name = (match[1] ?? match[2]) as string;
    const part = variablePart(name);
    if (part === undefined) {
      return {
        ok: false,
        reason: `uses $${name}, which Portico does not evaluate (supported: $remote_addr, $request_uri, $http_<name>, $cookie_<name>)`,
      };
    }
    parts.push(part);
    variables++;
    last = match.index + match[0].length;
  }
  const problem = literal(raw.slice(last));
  if (problem !== undefined) return { ok: false, reason: problem };
  if (variables === 0) return { ok: false, reason: 'has no variable: every request would hash the same' };
  return { ok: true, template: Object.freeze({ source: raw, parts: Object.freeze(parts) }) };
}

/** The request's key; a missing header or cookie is empty, as in nginx. */
export function evaluateHashKey(template: HashKeyTemplate, facts: HashKeyFacts): string {
  const { parts } = template;
  if (parts.length === 1) return partValue(parts[0] as HashKeyPart, facts);
  let key = '';
  for (const part of parts) key += partValue(part, facts);
  return key;
}

function partValue(part: HashKeyPart, facts: HashKeyFacts): string {
  switch (part.kind) {
    case 'literal':
      return part.text;
    case 'remote-addr':
      return facts.clientIp;
    case 'request-uri':
      return facts.requestUri;
    case 'header':
      return facts.header(part.name) ?? '';
    case 'cookie':
      return readCookie(facts.header('cookie'), part.name) ?? '';
  }
}
