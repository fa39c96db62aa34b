// The fast manifest parse (js-yaml on a stream split at bare `---` lines) against the yaml
// package's: the same values for random documents written in block, flow and JSON style; the
// same records and problems for every fixture of the repository, and for the streams the fast
// path must decline (aliases, directives, document end markers, content on a `---` line,
// broken documents).

import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseAllDocuments, stringify } from 'yaml';
import { parseManifestText, parseWithYamlPackage, plainDocuments } from '../../src/standalone/read-manifests.ts';
import { ingressYaml, manifests, serviceYaml } from '../support/cluster-manifests.ts';

const repoRoot = join(import.meta.dirname, '..', '..');

function assertSameParse(text: string, file = 'stream.yaml'): void {
  assert.deepStrictEqual(parseManifestText(text, file), parseWithYamlPackage(text, file), text);
}

async function yamlFilesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && /\.ya?ml$/.test(entry.name)) found.push(join(entry.parentPath, entry.name));
  }
  return found;
}

// Values that YAML 1.2 core reads as other than a string, or nearly so.
const tricky = fc.constantFrom(
  'true',
  'True',
  'yes',
  'on',
  'null',
  '~',
  '',
  '0o17',
  '0x1F',
  '017',
  '1e3',
  '.inf',
  '-.Inf',
  '.NaN',
  '1_000',
  '2026-01-01T00:00:00Z',
  '3.0',
  '+12',
  '- item',
  'a: b',
  '# not a comment',
  '---',
  '...',
  '*alias',
  '&anchor',
  '!tag',
  '"quoted"',
  "it's",
  'multi\nline\n',
  '  leading space',
  'trailing space  ',
  'tab\there',
  'ünïcödé',
  '{flow}',
  '[seq]',
  '%percent',
  '@at',
  '`tick`',
  '|',
  '>',
);
const scalar = fc.oneof(
  tricky,
  fc.string({ maxLength: 12 }),
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.boolean(),
  fc.constant(null),
);
const key = fc.oneof(
  fc.constantFrom('name', 'port', 'a.b/c', 'x-y', '1', 'true', 'null', '- k'),
  fc.string({ maxLength: 6 }),
);
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('list'), tie('map')),
  list: fc.array(tie('node'), { maxLength: 3 }),
  map: fc.dictionary(key, tie('node'), { maxKeys: 4 }),
})).node;

describe('the fast manifest parse', () => {
  it('reads every YAML fixture of the repository as the yaml package does', async () => {
    const files = [
      ...(await yamlFilesUnder(join(repoRoot, 'test', 'fixtures'))),
      ...(await yamlFilesUnder(join(repoRoot, 'charts'))),
    ];
    assert.ok(files.length > 20, `found ${files.length} fixture files`);
    for (const file of files) {
      const text = await readFile(file, 'utf8');
      // Chart templates are Go templates, not YAML: both must refuse them alike.
      assertSameParse(text, file);
    }
  });

  it('reads random documents written in block, flow and JSON style as the yaml package does', () => {
    let read = 0;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(value, fc.constantFrom('block', 'flow', 'json')), { minLength: 1, maxLength: 4 }),
        fc.constantFrom('---\n', '---  \n', '--- # next\n', '\n---\n', '---\r\n'),
        (documents, separator) => {
          const text = documents
            .map(([object, style]) =>
              style === 'json'
                ? JSON.stringify(object, null, 1)
                : stringify(object, { collectionStyle: style === 'flow' ? 'flow' : 'block' }),
            )
            .join(separator);
          const values: unknown[] = [];
          const fast = plainDocuments(text);
          for (let next = fast.next(); ; next = fast.next()) {
            if (next.done) {
              if (next.value === 'declined') return;
              break;
            }
            values.push(next.value);
          }
          read++;
          const reference = [...parseAllDocuments(text, { uniqueKeys: true })];
          assert.ok(reference.every((document) => document.errors.length === 0));
          assert.deepStrictEqual(
            values,
            reference.map((document) => document.toJS()),
            text,
          );
          assertSameParse(text);
        },
      ),
      { numRuns: 500, seed: Number(process.env.PORTICO_PROPERTY_SEED ?? Date.now() % 2 ** 31) },
    );
    assert.ok(read > 250, `the fast path read ${read} of 500 streams`);
  });

  it('leaves to the yaml package what it must not split or expand, with the same results', () => {
    const service = serviceYaml('a');
    const streams = [
      `${service}---\nkind: List\nitems:\n  - { kind: Service, metadata: &meta { name: b, namespace: default } }\n  - { kind: Service, metadata: *meta }\n`,
      `%YAML 1.2\n---\n${service}`,
      `${service}...\n---\n${service.replace('name: a', 'name: b')}`,
      `--- ${JSON.stringify({ kind: 'Service', metadata: { name: 'c', namespace: 'default' } })}\n`,
      `${service}---\nkind: Service\nmetadata:\n  name: dup\n  name: again\n---\n${serviceYaml('c')}`,
      `${service}---\nkind: Service\nmetadata: { name: [unclosed\n`,
      `${service}---\nkind: Service\nspec: !custom { a: 1 }\n`,
      `kind: Service\nmetadata: { name: "line\u2028sep", namespace: default }\n`,
      manifests(ingressYaml('web', 'a.test', [{ path: '/', service: 'a' }]), service),
      '',
      '# only a comment\n---\n---\n',
    ];
    for (const text of streams) assertSameParse(text);
    const broken = parseManifestText(streams[4] as string, 'broken.yaml');
    assert.deepEqual(broken.problems, [
      { file: 'broken.yaml', message: 'Map keys must be unique at line 12, column 3' },
    ]);
  });
});
