// ResourceWatcher against a scripted KubeClient, on mocked timers: when it retries, and what
// it says when the API server refuses it.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { createBackoff } from '../../src/kube/backoff.ts';
import { KubeApiError, type KubeClient } from '../../src/kube/kube-client.ts';
import { ResourceWatcher, type WatchedResource } from '../../src/kube/resource-watcher.ts';

const INGRESSES: WatchedResource = { kind: 'Ingress', path: '/apis/networking.k8s.io/v1/ingresses' };

interface Logged {
  readonly level: 'info' | 'warn' | 'debug';
  readonly object: object;
  readonly message: string;
}

function recordingLogger(logged: Logged[]) {
  return {
    info: (object: object, message: string) => logged.push({ level: 'info', object, message }),
    warn: (object: object, message: string) => logged.push({ level: 'warn', object, message }),
    debug: (object: object, message: string) => logged.push({ level: 'debug', object, message }),
  };
}

/** Lets the watcher's promise chains run (setImmediate is not mocked). */
async function settle(): Promise<void> {
  for (let round = 0; round < 5; round++) await new Promise((resolve) => setImmediate(resolve));
}

/** A client whose list answers `list()` and whose watches the test ends by hand. */
function scriptedClient(list: () => unknown) {
  const watches: { at: number; done: (error: unknown) => void }[] = [];
  const client: KubeClient = {
    server: 'https://kube.test',
    async request() {
      return list();
    },
    async watch(_path, _query, _onEvent, onDone) {
      watches.push({ at: Date.now(), done: onDone });
      return new AbortController();
    },
  };
  return { client, watches };
}

const EMPTY_LIST = { items: [], metadata: { resourceVersion: '7' } };

describe('ResourceWatcher', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 }));
  afterEach(() => mock.timers.reset());

  it('backs off while watches fail at once, but resumes promptly after a watch that stayed open drops', async () => {
    const { client, watches } = scriptedClient(() => EMPTY_LIST);
    // random() = 1: each delay is its full ceiling, 1 s, 2 s, 4 s, ...
    const watcher = new ResourceWatcher({
      client,
      resource: INGRESSES,
      onChanges: () => {},
      logger: recordingLogger([]),
      backoff: createBackoff(1_000, 30_000, () => 1),
    });
    watcher.start();
    mock.timers.tick(0);
    await settle();
    assert.equal(watches.length, 1, 'listed, then watched');

    // An API server outage: each attempt is refused at once, and the delays grow.
    const refused = new Error('fetch failed: connect ECONNREFUSED');
    for (const delayMs of [1_000, 2_000, 4_000, 8_000]) {
      watches.at(-1)?.done(refused);
      mock.timers.tick(delayMs - 1);
      await settle();
      const before: number = watches.length;
      mock.timers.tick(1);
      await settle();
      assert.equal(watches.length, before + 1, `retried after ${delayMs} ms`);
    }

    // The API server is back: this watch stays open a minute, then the connection drops.
    mock.timers.tick(60_000);
    await settle();
    const openedAt = watches.at(-1)?.at ?? 0;
    watches.at(-1)?.done(new Error('terminated: other side closed'));
    const count = watches.length;
    mock.timers.tick(1_000);
    await settle();
    assert.equal(watches.length, count + 1, 'resumed within the base delay, not after the 16 s the outage had reached');
    assert.ok((watches.at(-1)?.at ?? 0) - openedAt <= 61_000);
    watcher.stop();
  });

  it('names the verb and resource RBAC denies, for list and for watch', async () => {
    const logged: Logged[] = [];
    let listAllowed = false;
    const { client, watches } = scriptedClient(() => {
      if (listAllowed) return EMPTY_LIST;
      throw new KubeApiError(
        403,
        'GET /apis/networking.k8s.io/v1/ingresses?limit=500: 403 ingresses.networking.k8s.io is forbidden',
        'Forbidden',
      );
    });
    const watcher = new ResourceWatcher({
      client,
      resource: INGRESSES,
      onChanges: () => {},
      logger: recordingLogger(logged),
      backoff: createBackoff(1_000, 30_000, () => 1),
    });
    watcher.start();
    mock.timers.tick(0);
    await settle();
    const listDenied = logged.find((entry) => entry.level === 'warn');
    assert.equal(
      listDenied?.message,
      'list failed: RBAC denies list on networking.k8s.io ingresses (all namespaces); retrying',
    );
    assert.match(JSON.stringify(listDenied?.object), /403 ingresses\.networking\.k8s\.io is forbidden/);

    listAllowed = true;
    mock.timers.tick(1_000);
    await settle();
    assert.equal(watches.length, 1);
    // client-node's Watch reports a refused watch as an Error with the HTTP status.
    watches[0]?.done(Object.assign(new Error('Forbidden'), { statusCode: 403 }));
    const watchDenied = logged.filter((entry) => entry.level === 'warn').at(-1);
    assert.equal(
      watchDenied?.message,
      'watch failed: RBAC denies watch on networking.k8s.io ingresses (all namespaces); listing every 10 s instead',
    );
    watcher.stop();
  });

  it('lists again every deniedWatchPollMs while RBAC denies the watch, so changes arrive late, not never', async () => {
    let items: unknown[] = [];
    let lists = 0;
    const { client, watches } = scriptedClient(() => {
      lists++;
      return { items, metadata: { resourceVersion: String(lists) } };
    });
    const delivered: string[] = [];
    const watcher = new ResourceWatcher({
      client,
      resource: INGRESSES,
      onChanges: (changes) => {
        for (const change of changes) delivered.push(change.type === 'upsert' ? change.record.key : `-${change.key}`);
      },
      logger: recordingLogger([]),
      backoff: createBackoff(1_000, 30_000, () => 1),
      deniedWatchPollMs: 5_000,
    });
    const denied = Object.assign(new Error('Forbidden'), { statusCode: 403 });
    watcher.start();
    mock.timers.tick(0);
    await settle();
    assert.deepEqual([lists, watches.length], [1, 1]);

    // The watch is refused; meanwhile an Ingress is created.
    watches[0]?.done(denied);
    items = [{ metadata: { name: 'web', namespace: 'default', resourceVersion: '5' }, spec: {} }];
    mock.timers.tick(4_999);
    await settle();
    assert.equal(lists, 1, 'not relisted before the poll interval');
    mock.timers.tick(1);
    await settle();
    assert.equal(lists, 2, 'relisted at the poll interval');
    assert.deepEqual(delivered, ['default/web']);
    assert.equal(watches.length, 2, 'and tried the watch again, in case it was granted meanwhile');

    // Still denied, and the Ingress is deleted: the next list reports it gone, no sooner.
    watches[1]?.done(denied);
    items = [];
    mock.timers.tick(4_999);
    await settle();
    assert.equal(lists, 2);
    mock.timers.tick(1);
    await settle();
    assert.deepEqual(delivered, ['default/web', '-default/web']);
    watcher.stop();
  });

  it('names the namespace of a namespaced collection and the core group', async () => {
    const logged: Logged[] = [];
    const { client } = scriptedClient(() => {
      throw new KubeApiError(403, 'GET /api/v1/namespaces/team-a/secrets: 403 forbidden', 'Forbidden');
    });
    const watcher = new ResourceWatcher({
      client,
      resource: { kind: 'Secret', path: '/api/v1/namespaces/team-a/secrets', fieldSelector: 'type=kubernetes.io/tls' },
      onChanges: () => {},
      logger: recordingLogger(logged),
    });
    watcher.start();
    mock.timers.tick(0);
    await settle();
    assert.equal(logged[0]?.message, 'list failed: RBAC denies list on core secrets in namespace team-a; retrying');
    watcher.stop();
  });
});
