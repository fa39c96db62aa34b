// The README's annotation table, the catalog and the registry must tell the same story.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { ANNOTATION_CATALOG, registryAnnotationNames } from '../../src/compile/annotations/annotation-catalog.ts';
import { REFUSED_ANNOTATIONS } from '../../src/compile/annotations/annotation-registry.ts';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

function readmeRows(): { name: string; status: string }[] {
  const start = README.indexOf('<!-- annotations:start -->');
  const end = README.indexOf('<!-- annotations:end -->');
  assert.ok(start !== -1 && end > start, 'README.md has the annotations:start/end markers');
  return README.slice(start, end)
    .split('\n')
    .flatMap((line) => {
      const found = /^\| `([a-z0-9-]+)` \| (supported|differs|unsupported) \|/.exec(line);
      return found ? [{ name: found[1] as string, status: found[2] as string }] : [];
    });
}

it('README table rows are exactly the catalog, in order, with the same status', () => {
  assert.deepEqual(
    readmeRows(),
    ANNOTATION_CATALOG.map((entry) => ({ name: entry.name, status: entry.status })),
  );
});

it('every annotation the compiler reads is catalogued as supported or differing, and no other', () => {
  const readable = ANNOTATION_CATALOG.filter((entry) => entry.status !== 'unsupported').map((entry) => entry.name);
  assert.deepEqual([...readable].sort(), [...new Set(registryAnnotationNames())].sort());
});

it('every refused annotation is catalogued as unsupported with a reason', () => {
  for (const name of REFUSED_ANNOTATIONS.keys()) {
    const entry = ANNOTATION_CATALOG.find((candidate) => candidate.name === name);
    assert.equal(entry?.status, 'unsupported', name);
    assert.ok(entry?.note, `${name} needs a reason`);
  }
});
