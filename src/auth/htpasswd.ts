// Basic-auth credentials from a Secret (ingress-nginx `auth-secret`): an htpasswd file in data
// key `auth` (`auth-secret-type: auth-file`, the default) or one user per key with the hash as
// its value (`auth-map`). Hash schemes, as nginx's auth_basic_user_file reads them:
//   $2a$ / $2b$ / $2y$  bcrypt (bcryptjs; slow on purpose, so verified off the event loop)
//   $apr1$              Apache's MD5-crypt (apache-md5)
//   {SHA}               base64 SHA-1 of the password
//   {PLAIN}             the password itself
// Anything else (DES crypt, $1$, $5$, $6$, ...) is reported by line number and skipped: a
// diagnostic never quotes a line, since it holds a hash. Pure: parsing does no I/O.

import { createHash, timingSafeEqual } from 'node:crypto';
import apacheMd5 from 'apache-md5';

// apache-md5 is CommonJS whose typings declare an ES default export: at run time the default
// import is the function itself.
const aprMd5 = apacheMd5 as unknown as (password: string, salt: string) => string;

export type HashScheme = 'bcrypt' | 'apr1' | 'sha1' | 'plain';

export interface Credential {
  readonly scheme: HashScheme;
  /** the stored hash as written (for bcrypt and apr1, the full crypt string) */
  readonly hash: string;
}

/** Users → their credential; a null-prototype map, since user names come from the network. */
export type Credentials = ReadonlyMap<string, Credential>;

export interface ParsedCredentials {
  readonly credentials: Credentials;
  /** one sentence per skipped line or entry; never quotes a hash */
  readonly problems: readonly string[];
}

/**
 * Costs above this are refused: bcryptjs at cost 16 takes seconds per check, and each step
 * doubles it, so a Secret with a huge cost could tie up the verifier (htpasswd -B uses 5,
 * most tools 10-12).
 */
export const MAX_BCRYPT_COST = 15;
const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
const APR1 = /^\$apr1\$[^$]{0,8}\$[./A-Za-z0-9]{22}$/;
const SHA1 = /^\{SHA\}[A-Za-z0-9+/]{27}=$/;
/** RFC 7617 section 2: the user-id cannot contain a colon. */
const USER = /^[^:\s]{1,255}$/;

type SchemeResult =
  { readonly ok: true; readonly credential: Credential } | { readonly ok: false; readonly why: string };

export function classifyHash(hash: string): SchemeResult {
  const bcrypt = BCRYPT.exec(hash);
  if (bcrypt) {
    const cost = Number(bcrypt[1]);
    if (cost < 4 || cost > MAX_BCRYPT_COST) {
      return { ok: false, why: `has a bcrypt cost of ${cost}; Portico accepts 4 to ${MAX_BCRYPT_COST}` };
    }
    return { ok: true, credential: { scheme: 'bcrypt', hash } };
  }
  if (APR1.test(hash)) return { ok: true, credential: { scheme: 'apr1', hash } };
  if (SHA1.test(hash)) return { ok: true, credential: { scheme: 'sha1', hash } };
  if (hash.startsWith('{PLAIN}')) return { ok: true, credential: { scheme: 'plain', hash } };
  return {
    ok: false,
    why: 'uses a hash scheme Portico does not read (bcrypt $2a$/$2b$/$2y$, $apr1$, {SHA} and {PLAIN} are read)',
  };
}

/** An htpasswd file: `user:hash` lines; blank lines and `#` comments are skipped. */
export function parseHtpasswd(text: string): ParsedCredentials {
  const credentials = new Map<string, Credential>();
  const problems: string[] = [];
  const lines = text.split('\n');
  for (const [index, rawLine] of lines.entries()) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line.trim() === '' || line.startsWith('#')) continue;
    const where = `line ${index + 1}`;
    const colon = line.indexOf(':');
    const user = colon < 0 ? '' : line.slice(0, colon);
    if (!USER.test(user)) {
      problems.push(`${where} is not user:hash; it is skipped`);
      continue;
    }
    addCredential(credentials, problems, where, user, line.slice(colon + 1));
  }
  return freeze(credentials, problems);
}

/** `auth-map`: each key is a user, each value that user's hash. */
export function parseAuthMap(data: Readonly<Record<string, string>>): ParsedCredentials {
  const credentials = new Map<string, Credential>();
  const problems: string[] = [];
  for (const [user, value] of Object.entries(data)) {
    const where = `key ${JSON.stringify(user)}`;
    if (!USER.test(user)) {
      problems.push(`${where} is not a user name; it is skipped`);
      continue;
    }
    addCredential(credentials, problems, where, user, value.trim());
  }
  return freeze(credentials, problems);
}

function addCredential(
  credentials: Map<string, Credential>,
  problems: string[],
  where: string,
  user: string,
  hash: string,
): void {
  const classified = classifyHash(hash);
  if (!classified.ok) {
    problems.push(`${where} ${classified.why}; it is skipped`);
    return;
  }
  // As nginx, the first line for a user wins.
  if (credentials.has(user)) {
    problems.push(`${where} repeats a user named earlier; it is skipped`);
    return;
  }
  credentials.set(user, Object.freeze(classified.credential));
}

function freeze(credentials: Map<string, Credential>, problems: string[]): ParsedCredentials {
  return Object.freeze({ credentials, problems: Object.freeze(problems) });
}

function constantTimeEqual(left: string, right: string): boolean {
  // Equal-length digests, so the comparison time does not depend on where they differ.
  const a = createHash('sha256').update(left).digest();
  const b = createHash('sha256').update(right).digest();
  return timingSafeEqual(a, b);
}

/**
 * Checks a password against a fast scheme; undefined for bcrypt, which the caller verifies
 * off the event loop (src/auth/bcrypt-verifier.ts).
 */
export function verifyFast(credential: Credential, password: string): boolean | undefined {
  switch (credential.scheme) {
    case 'plain':
      return constantTimeEqual(credential.hash.slice('{PLAIN}'.length), password);
    case 'sha1':
      return constantTimeEqual(credential.hash, `{SHA}${createHash('sha1').update(password, 'utf8').digest('base64')}`);
    case 'apr1':
      return constantTimeEqual(credential.hash, aprMd5(password, credential.hash));
    case 'bcrypt':
      return undefined;
  }
}

/** `Authorization: Basic base64(user:password)` (RFC 7617); undefined when absent or malformed. */
export function parseBasicAuthorization(
  header: string | undefined,
): { readonly user: string; readonly password: string } | undefined {
  if (header === undefined) return undefined;
  const match = /^[Bb][Aa][Ss][Ii][Cc] +([A-Za-z0-9+/]+={0,2}) *$/.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
