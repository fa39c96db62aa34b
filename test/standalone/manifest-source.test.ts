// The manifest source against real files and real fs.watch events.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import type { ClusterSink } from '../../src/runtime/cluster-sink.ts';
import { FAST_LANE_MAX_BYTES, ManifestSource, takesFastLane } from '../../src/standalone/manifest-source.ts';
import { parseManifestText } from '../../src/standalone/read-manifests.ts';
import type { ClusterChange } from '../../src/store/cluster-snapshot.ts';
import { captureLogger, LEVEL } from '../runtime/capture-logger.ts';
import { endpointSliceYaml, ingressYaml, serviceYaml, yamlStream } from './manifest-snippets.ts';
import { waitFor } from './wait-for.ts';

const service = serviceYaml;

function describeChange(change: ClusterChange): string {
  if (change.type === 'delete') return `delete ${change.kind} ${change.key}`;
  const record = change.record;
  const port = record.kind === 'Service' ? `:${record.ports[0]?.port}` : '';
  return `upsert ${record.kind} ${record.key}${port}`;
}

class RecordingSink implements ClusterSink {
  changes: string[] = [];
  synced = 0;
  apply(change: ClusterChange): void {
    this.changes.push(describeChange(change));
  }
  applyChanges(changes: readonly ClusterChange[]): void {
    for (const change of changes) this.apply(change);
  }
  markSynced(): void {
    this.synced++;
  }
  take(): string[] {
    const taken = this.changes;
    this.changes = [];
    return taken.sort();
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(
  layout: Record<string, string>,
  paths?: (dir: string) => string[],
  emptyConfirmMs = 300,
  readText?: (file: string) => Promise<string>,
  holdoff: { holdoffMs: number; maxDelayMs: number; fastHoldoffMs?: number } = { holdoffMs: 20, maxDelayMs: 200 },
) {
  const dir = await mkdtemp(join(tmpdir(), 'portico-manifests-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(layout)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  const sink = new RecordingSink();
  const { logger, lines } = captureLogger();
  const source = new ManifestSource({
    paths: paths ? paths(dir) : [dir],
    sink,
    logger,
    ...holdoff,
    emptyConfirmMs,
    ...(readText ? { readText } : {}),
  });
  cleanups.push(() => source.close());
  await source.start();
  return { dir, sink, source, lines };
}

describe('manifest source', () => {
  it('loads every file under the directories, then marks the sink synced once', async () => {
    const { sink } = await setup({
      'a.yaml': service('a', 80),
      'nested/b.yml': `${service('b', 81)}---\n${service('c', 82)}`,
      'ignored.txt': service('ignored', 1),
      '.hidden.yaml': service('hidden', 1),
      'deployment.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: d }\n',
    });
    assert.deepEqual(sink.take(), [
      'upsert Service default/a:80',
      'upsert Service default/b:81',
      'upsert Service default/c:82',
    ]);
    assert.equal(sink.synced, 1);
  });

  it('applies an edit, a new file and a removed file, only for what changed', async () => {
    const { dir, sink } = await setup({ 'a.yaml': service('a', 80), 'b.yaml': service('b', 81) });
    sink.take();

    await writeFile(join(dir, 'a.yaml'), service('a', 90));
    assert.deepEqual(await waitFor('the edit', () => sink.changes.length > 0 && sink.take()), [
      'upsert Service default/a:90',
    ]);

    await writeFile(join(dir, 'c.yaml'), service('c', 82));
    assert.deepEqual(await waitFor('the new file', () => sink.changes.length > 0 && sink.take()), [
      'upsert Service default/c:82',
    ]);

    await rm(join(dir, 'b.yaml'));
    assert.deepEqual(await waitFor('the removal', () => sink.changes.length > 0 && sink.take()), [
      'delete Service default/b',
    ]);
  });

  it('follows a file argument replaced by rename, as editors save', async () => {
    const { dir, sink, source } = await setup({ 'a.yaml': service('a', 80) }, (d) => [join(d, 'a.yaml')]);
    sink.take();
    await writeFile(join(dir, '.a.yaml.swp'), service('a', 91));
    await rename(join(dir, '.a.yaml.swp'), join(dir, 'a.yaml'));
    assert.deepEqual(await waitFor('the renamed file', () => sink.changes.length > 0 && sink.take()), [
      'upsert Service default/a:91',
    ]);
    await source.rescan();
    assert.deepEqual(sink.take(), [], 'rescanning unchanged files changes nothing');
  });

  it('a broken edit keeps the last good objects and logs one error line', async () => {
    const { dir, sink, source, lines } = await setup({ 'a.yaml': service('a', 80), 'b.yaml': service('b', 81) });
    sink.take();
    await writeFile(join(dir, 'a.yaml'), 'kind: Service\nmetadata: { name: [oops\n');
    const error = await waitFor('the error line', () => lines.find((line) => line.level === LEVEL.error));
    assert.match(error.msg, /a\.yaml: .*; keeping the file's last good objects/);
    await source.rescan();
    await source.rescan();
    assert.equal(lines.filter((line) => line.level === LEVEL.error).length, 1, 'the same broken text is reported once');
    assert.deepEqual(sink.take(), [], 'nothing was removed or changed');

    // A file that parses as YAML but holds an invalid object is just as broken.
    await writeFile(join(dir, 'a.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: { namespace: default }\n');
    await waitFor('the second error line', () => lines.filter((line) => line.level === LEVEL.error).length === 2);
    assert.deepEqual(sink.take(), []);

    await writeFile(join(dir, 'a.yaml'), service('a', 85));
    assert.deepEqual(await waitFor('the fix', () => sink.changes.length > 0 && sink.take()), [
      'upsert Service default/a:85',
    ]);
  });

  it('when two files define one object the later file wins, and removing it falls back', async () => {
    const { dir, sink, lines } = await setup({ 'a.yaml': service('same', 80), 'b.yaml': service('same', 81) });
    assert.deepEqual(sink.take(), ['upsert Service default/same:81']);
    assert.ok(lines.some((line) => line.msg === 'object defined twice; the later file wins'));
    await rm(join(dir, 'b.yaml'));
    assert.deepEqual(await waitFor('the fallback', () => sink.changes.length > 0 && sink.take()), [
      'upsert Service default/same:80',
    ]);
  });

  it('a removed directory argument removes its objects', async () => {
    const { dir, sink } = await setup({ 'sub/a.yaml': service('a', 80), 'b.yaml': service('b', 81) }, (d) => [
      join(d, 'sub'),
      join(d, 'b.yaml'),
    ]);
    sink.take();
    await rm(join(dir, 'sub'), { recursive: true });
    // The watch on a removed directory may or may not report; the file argument's directory does.
    await writeFile(join(dir, 'b.yaml'), service('b', 81));
    assert.deepEqual(await waitFor('the removal', () => sink.changes.length > 0 && sink.take()), [
      'delete Service default/a',
    ]);
  });

  it('a file emptied in place keeps its objects while a rewrite may follow', async () => {
    // Writers that truncate, then write (shell `>`, many editors) expose an empty file for a moment.
    // A confirm period far longer than the test, so a slow machine cannot confirm the emptiness.
    const { dir, sink, source } = await setup({ 'a.yaml': service('a', 80) }, undefined, 60_000);
    sink.take();
    await writeFile(join(dir, 'a.yaml'), '');
    await source.rescan();
    assert.deepEqual(sink.take(), [], 'the objects stay while the empty file is unconfirmed');
    await writeFile(join(dir, 'a.yaml'), service('a', 80));
    await source.rescan();
    assert.deepEqual(sink.take(), [], 'the rewrite restored the same objects: nothing changed');
  });

  it('a file left empty loses its objects once the emptiness is confirmed', async () => {
    const { dir, sink, lines } = await setup({ 'a.yaml': service('a', 80), 'b.yaml': service('b', 81) });
    sink.take();
    await writeFile(join(dir, 'a.yaml'), '\n');
    assert.deepEqual(await waitFor('the removal', () => sink.changes.length > 0 && sink.take()), [
      'delete Service default/a',
    ]);
    assert.ok(lines.some((line) => line.level === LEVEL.warn && /a\.yaml is empty/.test(line.msg)));
  });

  it('reads again only the files that changed since their last good read', async () => {
    const reads: string[] = [];
    const readText = (file: string): Promise<string> => {
      reads.push(basename(file));
      return readFile(file, 'utf8');
    };
    const { dir, sink, source } = await setup(
      { 'a.yaml': service('a', 80), 'b.yaml': service('b', 81) },
      undefined,
      300,
      readText,
    );
    assert.equal(reads.sort().join(', '), 'a.yaml, b.yaml');
    sink.take();
    reads.length = 0;
    await source.rescan();
    assert.equal(reads.join(', '), '', 'nothing changed: nothing read');
    await writeFile(join(dir, 'a.yaml'), service('a', 90));
    await source.rescan();
    assert.deepEqual(sink.take(), ['upsert Service default/a:90']);
    assert.ok(reads.length > 0 && reads.every((name) => name === 'a.yaml'), `read: ${reads.join(', ')}`);
    // A rewrite with the same text is read (its stamp moved) but changes nothing.
    reads.length = 0;
    await writeFile(join(dir, 'b.yaml'), service('b', 81));
    await source.rescan();
    assert.deepEqual(sink.take(), []);
    assert.ok(reads.join(' ').includes('b.yaml'));
  });

  it('an object moved between files, and a changed file defining what another holds, match a full rebuild', async () => {
    const { dir, sink, source, lines } = await setup({
      'a.yaml': `${service('x', 80)}---\n${service('p', 70)}`,
      'b.yaml': service('y', 81),
    });
    sink.take();
    // x moves from a.yaml to b.yaml unchanged: no change reaches the sink for it.
    await writeFile(join(dir, 'a.yaml'), service('p', 70));
    await writeFile(join(dir, 'b.yaml'), `${service('y', 81)}---\n${service('x', 80)}`);
    await source.rescan();
    assert.deepEqual(sink.take(), []);
    // a.yaml (earlier) now defines y too: b.yaml (later) still wins.
    await writeFile(join(dir, 'a.yaml'), `${service('p', 70)}---\n${service('y', 99)}`);
    await source.rescan();
    assert.deepEqual(sink.take(), []);
    assert.ok(lines.some((line) => line.msg === 'object defined twice; the later file wins'));
    // b.yaml drops y: a.yaml's y takes over; dropping x deletes it.
    await writeFile(join(dir, 'b.yaml'), '# nothing left\nkind: List\napiVersion: v1\nitems: []\n');
    await source.rescan();
    assert.deepEqual(sink.take(), ['delete Service default/x', 'upsert Service default/y:99']);
  });

  describe('the fast lane for small EndpointSlice-only files', () => {
    // A default hold-off no test waits out: an edit seen at all came through the fast lane.
    const slowDefault = { holdoffMs: 600_000, maxDelayMs: 600_000, fastHoldoffMs: 5 };
    const slices = (address: string) => endpointSliceYaml('web-1', 'web', 8080, [address]);

    it('takes only files last read as small and made of EndpointSlices alone', () => {
      const loaded = (text: string) => ({ text, records: parseManifestText(text, 'x.yaml').records });
      assert.equal(takesFastLane(loaded(slices('10.0.0.1'))), true);
      assert.equal(takesFastLane(loaded(yamlStream(slices('10.0.0.1'), service('web', 80)))), false, 'a Service too');
      const ingress = ingressYaml({ name: 'web', host: 'a.test', path: '/', service: 'web', port: 80 });
      assert.equal(takesFastLane(loaded(ingress)), false);
      assert.equal(takesFastLane(loaded('')), false, 'an empty file: nothing known about it');
      const many = Array.from({ length: 400 }, (_, index) => `10.0.${index >> 8}.${index & 255}`);
      const large = endpointSliceYaml('web-1', 'web', 8080, many);
      assert.ok(Buffer.byteLength(large) > FAST_LANE_MAX_BYTES);
      assert.equal(takesFastLane(loaded(large)), false, 'too large to be written in one step');
    });

    it('applies a slice file replaced by rename without the default hold-off', async () => {
      const { dir, sink } = await setup(
        { 'slices.yaml': slices('10.0.0.1'), 'services.yaml': service('web', 80) },
        undefined,
        300,
        undefined,
        slowDefault,
      );
      sink.take();
      const staging = await mkdtemp(join(tmpdir(), 'portico-staging-'));
      cleanups.push(() => rm(staging, { recursive: true, force: true }));
      await writeFile(join(staging, 'slices.yaml'), slices('10.0.0.2'));
      await rename(join(staging, 'slices.yaml'), join(dir, 'slices.yaml'));
      assert.deepEqual(await waitFor('the slice change', () => sink.changes.length > 0 && sink.take()), [
        'upsert EndpointSlice default/web-1',
      ]);
    });

    it('choosing the lane after a rescan does not measure the large files again', async () => {
      const large = yamlStream(...Array.from({ length: 300 }, (_, index) => service(`svc-${index}`, 80)));
      assert.ok(large.length > FAST_LANE_MAX_BYTES);
      const { dir, sink, source } = await setup(
        { 'services.yaml': large, 'slices.yaml': slices('10.0.0.1') },
        undefined,
        300,
        undefined,
        slowDefault,
      );
      sink.take();
      const measured: number[] = [];
      const byteLength = Buffer.byteLength;
      Buffer.byteLength = ((value: string, encoding?: BufferEncoding) => {
        measured.push(value.length);
        return byteLength(value, encoding);
      }) as typeof Buffer.byteLength;
      try {
        await writeFile(join(dir, 'slices.yaml'), slices('10.0.0.2'));
        await source.rescan();
      } finally {
        Buffer.byteLength = byteLength;
      }
      assert.deepEqual(sink.take(), ['upsert EndpointSlice default/web-1']);
      assert.deepEqual(
        measured.filter((length) => length > FAST_LANE_MAX_BYTES),
        [],
        'a file longer than the limit in characters is longer in bytes: no need to count them',
      );
    });

    it('a slice file truncated, then written, keeps its endpoints in between', async () => {
      const reads: string[] = [];
      const { dir, sink } = await setup(
        { 'slices.yaml': slices('10.0.0.1') },
        undefined,
        600_000,
        async (file) => {
          const text = await readFile(file, 'utf8');
          reads.push(text);
          return text;
        },
        slowDefault,
      );
      sink.take();
      await writeFile(join(dir, 'slices.yaml'), '');
      await waitFor('the empty file read', () => reads.at(-1) === '');
      assert.deepEqual(sink.take(), [], 'an empty file, not yet confirmed, keeps its objects');
      await writeFile(join(dir, 'slices.yaml'), slices('10.0.0.3'));
      assert.deepEqual(await waitFor('the rewrite', () => sink.changes.length > 0 && sink.take()), [
        'upsert EndpointSlice default/web-1',
      ]);
    });
  });
});
