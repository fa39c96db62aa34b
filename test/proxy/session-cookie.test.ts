// The Set-Cookie line of cookie affinity: attributes as ingress-nginx writes them, and the
// SameSite=None exception for the browsers that reject it.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SESSION_COOKIE_DEFAULTS } from '../../src/compile/annotations/parse-selection-annotations.ts';
import { rejectsSameSiteNone, sessionCookieLine } from '../../src/proxy/session-cookie.ts';
import type { Route, SessionCookieSettings } from '../../src/routing/route-table.ts';

const BASE: SessionCookieSettings = { ...SESSION_COOKIE_DEFAULTS, mode: 'persistent' };

const route = (path: string, match: Route['match']): Route => ({ path, match }) as Route;
const NOW = Date.UTC(2026, 0, 1, 0, 0, 0);
const context = { route: route('/shop', 'prefix'), https: false, userAgent: undefined, nowMs: NOW };

const CHROME_120 =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const CHROME_60 =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/60.0.3112.113 Safari/537.36';
const IOS_12 =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 12_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.0 Mobile/15E148 Safari/604.1';
const MAC_SAFARI_10_14 =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.1.2 Safari/605.1.15';
const MAC_CHROME_10_14 =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/80.0.3987.87 Safari/537.36';
const UC_OLD =
  'Mozilla/5.0 (Linux; U; Android 8.0.0) AppleWebKit/537.36 (KHTML, like Gecko) UCBrowser/12.10.5.1158 Mobile Safari/537.36';
const UC_NEW =
  'Mozilla/5.0 (Linux; U; Android 9) AppleWebKit/537.36 (KHTML, like Gecko) UCBrowser/12.13.2.1208 Mobile Safari/537.36';

describe('session cookie line', () => {
  test('defaults: the matched path, HttpOnly, nothing else', () => {
    assert.equal(sessionCookieLine(BASE, 'v', context), 'INGRESSCOOKIE=v; Path=/shop; HttpOnly');
  });

  test('a regex route without session-cookie-path gets Path=/', () => {
    assert.equal(
      sessionCookieLine(BASE, 'v', { ...context, route: route('/api/v[0-9]+', 'regex') }),
      'INGRESSCOOKIE=v; Path=/; HttpOnly',
    );
  });

  test('every attribute', () => {
    const settings: SessionCookieSettings = {
      ...BASE,
      name: 'route',
      path: '/app',
      domain: '.example.com',
      maxAgeSeconds: 3600,
      expiresSeconds: 7200,
      sameSite: 'Lax',
      secure: true,
    };
    assert.equal(
      sessionCookieLine(settings, 'v', context),
      'route=v; Path=/app; Domain=.example.com; Expires=Thu, 01 Jan 2026 02:00:00 GMT; Max-Age=3600; Secure; HttpOnly; SameSite=Lax',
    );
  });

  test('Secure on HTTPS, and always with SameSite=None', () => {
    assert.equal(
      sessionCookieLine(BASE, 'v', { ...context, https: true }),
      'INGRESSCOOKIE=v; Path=/shop; Secure; HttpOnly',
    );
    assert.equal(
      sessionCookieLine({ ...BASE, sameSite: 'None' }, 'v', context),
      'INGRESSCOOKIE=v; Path=/shop; Secure; HttpOnly; SameSite=None',
    );
  });

  test('conditional SameSite=None leaves the attribute off for incompatible browsers only', () => {
    const settings = { ...BASE, sameSite: 'None' as const, conditionalSameSiteNone: true };
    assert.match(sessionCookieLine(settings, 'v', { ...context, userAgent: CHROME_120 }), /SameSite=None$/);
    assert.equal(
      sessionCookieLine(settings, 'v', { ...context, userAgent: CHROME_60 }),
      'INGRESSCOOKIE=v; Path=/shop; HttpOnly',
    );
  });

  test('the incompatible clients', () => {
    for (const ua of [CHROME_60, IOS_12, MAC_SAFARI_10_14, UC_OLD]) assert.equal(rejectsSameSiteNone(ua), true, ua);
    for (const ua of [CHROME_120, MAC_CHROME_10_14, UC_NEW, undefined, ''])
      assert.equal(rejectsSameSiteNone(ua), false, String(ua));
  });
});
