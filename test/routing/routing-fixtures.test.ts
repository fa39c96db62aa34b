// Runs every routing fixture through `explain` (the proxy's own decision code) and runs the
// same requests against the trie and the reference matcher: one contract, two matchers.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compile } from '../../src/compile/compile.ts';
import type { ExplainAnswer } from '../../src/explain/explain-request.ts';
import { explainRequest, splitUrl } from '../../src/explain/explain-request.ts';
import { matchRequest } from '../../src/routing/match-request.ts';
import { normalizeRequestHost, normalizeRequestTarget } from '../../src/routing/normalize-request.ts';
import { describeMatch } from '../support/describe-match.ts';

/** The answer field a row's `key=value` names; undefined for an unknown key. */
function readAnswerKey(answer: ExplainAnswer, key: string): string | null | undefined {
  if (key.startsWith('header.')) return answer.upstreamHeaders[key.slice('header.'.length)] ?? null;
  switch (key) {
    case 'upstream':
      return answer.upstreamPath;
    case 'location':
      return answer.location;
    case 'ingress':
      return answer.ingress;
    case 'rule':
      return answer.rule?.path ?? null;
    case 'endpoints':
      return answer.endpoints.join(',');
    case 'canary': {
      const canary = answer.canary;
      if (!canary) return null;
      const backend = canary.backend
        ? `${canary.backend.namespace}/${canary.backend.service}:${canary.backend.port}`
        : 'none';
      return `${backend}@${canary.weight}/${canary.weightTotal}`;
    }
    default:
      return undefined;
  }
}

import { referenceMatch } from '../support/reference-matcher.ts';
import { loadAllRoutingFixtures } from '../support/routing-fixture.ts';

for (const fixture of loadAllRoutingFixtures()) {
  describe(`routing fixture ${fixture.name}`, () => {
    const { table, diagnostics } = compile(fixture.snapshot, fixture.options);

    it('produces exactly the expected diagnostics', () => {
      const seen = diagnostics.map((diagnostic) => `${diagnostic.object}: ${diagnostic.code}`).sort();
      assert.deepEqual(seen, [...fixture.diagnostics].sort(), JSON.stringify(diagnostics, null, 2));
    });

    for (const row of fixture.rows) {
      it(row.text, () => {
        const answer = explainRequest(fixture.snapshot, fixture.options, {
          method: row.method,
          url: row.url,
          headers: row.headers,
        });
        const context = JSON.stringify({ ...answer, diagnostics: undefined });
        if (row.status !== undefined) assert.equal(answer.status, row.status, context);
        if (row.backend !== undefined) {
          const backend = answer.backend
            ? `${answer.backend.namespace}/${answer.backend.service}:${answer.backend.port}`
            : null;
          assert.equal(backend, row.backend, context);
        }
        for (const [key, expected] of row.keys) {
          const actual = readAnswerKey(answer, key);
          assert.notEqual(actual, undefined, `unknown key ${key}`);
          assert.equal(actual, expected === 'null' ? null : expected, context);
        }

        const parts = splitUrl(row.url);
        const host = normalizeRequestHost(row.headers.get('host') ?? parts?.authority);
        const target = normalizeRequestTarget(parts?.target ?? '');
        if (host !== undefined && target.ok) {
          assert.equal(
            describeMatch(matchRequest(table, host, target.path)),
            describeMatch(referenceMatch(table, host, target.path)),
            'trie and reference matcher disagree',
          );
        }
      });
    }
  });
}
