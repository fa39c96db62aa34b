// The Set-Cookie line of `affinity: cookie` (RFC 6265 section 4.1), with ingress-nginx's
// attributes: Path (the annotation, else the matched path), Domain, Expires, Max-Age, Secure,
// HttpOnly (always, as ingress-nginx) and SameSite. Every value was checked by the annotation
// grammar, so none can add an attribute of its own.

import RE2 from 're2';
import type { Route, SessionCookieSettings } from '../routing/route-table.ts';

export interface CookieContext {
  readonly route: Route | undefined;
  readonly https: boolean;
  readonly userAgent: string | undefined;
  /** wall-clock milliseconds, for Expires */
  readonly nowMs: number;
}

export function sessionCookieLine(settings: SessionCookieSettings, value: string, context: CookieContext): string {
  const route = context.route;
  // A regex route's path is a pattern, not a cookie path (the compiler warned about it).
  const path = settings.path ?? (route === undefined || route.match === 'regex' ? '/' : route.path);
  let line = `${settings.name}=${value}; Path=${path}`;
  if (settings.domain !== undefined) line += `; Domain=${settings.domain}`;
  if (settings.expiresSeconds !== undefined)
    line += `; Expires=${new Date(context.nowMs + settings.expiresSeconds * 1000).toUTCString()}`;
  if (settings.maxAgeSeconds !== undefined) line += `; Max-Age=${settings.maxAgeSeconds}`;
  const sameSite =
    settings.sameSite === 'None' && settings.conditionalSameSiteNone && rejectsSameSiteNone(context.userAgent)
      ? undefined
      : settings.sameSite;
  // Browsers drop a SameSite=None cookie that is not Secure.
  if (settings.secure || context.https || sameSite === 'None') line += '; Secure';
  line += '; HttpOnly';
  if (sameSite !== undefined) line += `; SameSite=${sameSite}`;
  return line;
}

// RE2: a User-Agent is attacker-chosen, and these patterns would backtrack polynomially.
const IOS_12 = new RE2(/\(iP.+; CPU .*OS 12[_\d]*.*\) AppleWebKit\//);
const MACOS_10_14 = new RE2(/\(Macintosh;.*Mac OS X 10_14[_\d]*.*\) AppleWebKit\//);
const SAFARI = new RE2(/Version\/.* Safari\//);
const CHROMIUM = new RE2(/Chrom(?:e|ium)/);
const MAC_EMBEDDED = new RE2(
  /^Mozilla\/[.\d]+ \(Macintosh;.*Mac OS X [_\d]+\) AppleWebKit\/[.\d]+ \(KHTML, like Gecko\)$/,
);
const CHROMIUM_51_TO_66 = new RE2(/Chrom(?:e|ium)\/(?:5[1-9]|6[0-6])\./);
const UC_BROWSER = new RE2(/UCBrowser\/(\d+)\.(\d+)\.(\d+)/);

/**
 * The clients Chromium's "SameSite=None: known incompatible clients" page lists: they treat
 * SameSite=None as Strict, or reject the cookie. ingress-nginx's
 * `session-cookie-conditional-samesite-none` leaves the attribute off for them.
 */
export function rejectsSameSiteNone(userAgent: string | undefined): boolean {
  if (!userAgent) return false;
  if (IOS_12.test(userAgent)) return true;
  if (
    MACOS_10_14.test(userAgent) &&
    ((SAFARI.test(userAgent) && !CHROMIUM.test(userAgent)) || MAC_EMBEDDED.test(userAgent))
  )
    return true;
  if (CHROMIUM_51_TO_66.test(userAgent)) return true;
  const uc = UC_BROWSER.exec(userAgent);
  if (uc) {
    const [major, minor, build] = [Number(uc[1]), Number(uc[2]), Number(uc[3])];
    return major < 12 || (major === 12 && (minor < 13 || (minor === 13 && build < 2)));
  }
  return false;
}
