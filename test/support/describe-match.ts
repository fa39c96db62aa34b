import type { MatchResult } from '../../src/routing/match-request.ts';

/** A comparable one-line summary of a match, used to compare two matchers. */
export function describeMatch(result: MatchResult): string {
  switch (result.kind) {
    case 'route': {
      const { route, groups } = result.match;
      return `route ${route.ingress} ${JSON.stringify(route.host)} ${route.path} ${route.pathType} ${JSON.stringify(groups ?? null)}`;
    }
    case 'default-backend':
      return `default ${result.fallback.ingress} ${JSON.stringify(result.entry?.host ?? null)}`;
    case 'not-found':
      return `not-found ${JSON.stringify(result.entry?.host ?? null)}`;
  }
}
