// parseManifestText: multi-document YAML into records, a broken document reported with its
// position (first line of the YAML error) while the other documents are still read.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseManifestText } from '../../src/standalone/read-manifests.ts';
import { manifests, serviceYaml } from '../support/cluster-manifests.ts';

describe('parseManifestText', () => {
  it('reads every document of a stream, in order', () => {
    const parsed = parseManifestText(manifests(serviceYaml('a'), serviceYaml('b')), 'ok.yaml');
    assert.deepEqual(parsed.problems, []);
    assert.deepEqual(
      parsed.records.map((record) => `${record.kind} ${record.key}`),
      ['IngressClass portico', 'Service default/a', 'Service default/b'],
    );
  });

  it('reports a broken document by its first error and position; the others are still read', () => {
    const text = [serviceYaml('a'), 'kind: Service\nmetadata:\n  name: dup\n  name: again\n', serviceYaml('c')].join(
      '---\n',
    );
    const parsed = parseManifestText(text, 'broken.yaml');
    assert.deepEqual(
      parsed.records.map((record) => record.key),
      ['default/a', 'default/c'],
    );
    assert.deepEqual(parsed.problems, [
      { file: 'broken.yaml', message: 'Map keys must be unique at line 12, column 3' },
    ]);
  });

  it('an empty text or a stream of comments holds no objects and no problems', () => {
    assert.deepEqual(parseManifestText('', 'empty.yaml'), { records: [], problems: [] });
    assert.deepEqual(parseManifestText('# nothing\n---\n# still nothing\n', 'comments.yaml'), {
      records: [],
      problems: [],
    });
  });
});
