// Standalone mode's source: manifest files and directories fed into the same sink the
// Kubernetes watchers will feed. Files are watched (fs.watch, debounced) and every settled
// burst of events triggers one rescan:
//   - a file whose text changed is parsed again; if it parses cleanly its objects replace
//     the file's previous ones, otherwise the file keeps its last good objects and one error
//     line is logged (once per distinct broken text);
//   - a file that disappeared takes its objects with it;
//   - a file that turns empty keeps its objects until it has stayed empty for emptyConfirmMs:
//     writers that truncate and then write (shell `>`, many editors) expose an empty file for a
//     moment, and dropping every route of that file in between would fail live traffic;
//   - only objects that really differ reach the sink, so touching an Ingress file does not
//     disturb endpoints, and saving a file unchanged does nothing.
// The hold-off (100 ms by default) lets a writer finish before the file is read. A burst of
// events that all name files last read as small EndpointSlice-only manifests (at most
// FAST_LANE_MAX_BYTES: one write() call for editors and tools, so no partial text to wait out)
// waits `fastHoldoffMs` instead, so an endpoint change reaches traffic in milliseconds. Any
// other name in the burst (an Ingress file, a new or unknown file, a swap or backup file, a
// directory) makes the whole burst wait the full hold-off. A truncate-then-write still shows an
// empty file first, which is held emptyConfirmMs as before, so the early read is safe there too.
// A rescan costs what changed, not what is loaded (10,000 Ingresses are 30,000 objects in
// 12 MB): a file whose (size, mtime, ctime, inode) match its last good read is not read again,
// and when the file list is the same and no object is defined twice, only the objects of the
// files that changed are compared with what the sink holds.
// When two files define the same object, the later file (in argument and name order) wins.

import { type FSWatcher, watch } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from '../logging/create-logger.ts';
import type { ClusterRecord } from '../model/records.ts';
import { type Clock, systemClock } from '../runtime/clock.ts';
import type { ClusterSink } from '../runtime/cluster-sink.ts';
import { createDebouncer, type Debouncer } from '../runtime/debounce.ts';
import type { ClusterChange } from '../store/cluster-snapshot.ts';
import { listManifestFiles, parseManifestText } from './read-manifests.ts';

export interface ManifestSourceOptions {
  /** files and directories as given on the command line */
  readonly paths: readonly string[];
  readonly sink: ClusterSink;
  readonly logger: Logger;
  readonly holdoffMs: number;
  readonly maxDelayMs: number;
  /**
   * the hold-off for a burst that only touches small EndpointSlice-only files (see the top of
   * this file); undefined: every burst waits `holdoffMs`
   */
  readonly fastHoldoffMs?: number;
  /** how long a file that turned empty must stay empty before its objects go (default 1 s) */
  readonly emptyConfirmMs?: number;
  readonly clock?: Clock;
  /** reads a manifest file (tests count the reads); default `readFile(file, 'utf8')` */
  readonly readText?: (file: string) => Promise<string>;
}

interface LoadedFile {
  readonly text: string;
  readonly records: readonly ClusterRecord[];
  /** `statKey` of the file taken just before the read that gave `text` */
  readonly stamp: string;
}

/** What tells a rewritten file apart: a rename changes the inode, a write the size or times. */
function statKey(info: BigIntStats): string {
  return `${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`;
}

const readUtf8 = (file: string): Promise<string> => readFile(file, 'utf8');

export interface ScanSummary {
  readonly upserts: number;
  readonly deletes: number;
}

/**
 * The largest file the fast lane takes: editors and tools write a file this small in one
 * write() call (vim and Python buffer 8 KiB, Node and Go write the whole buffer), so there is
 * no half-written text to wait out. About 40 endpoints of EndpointSlice YAML.
 */
export const FAST_LANE_MAX_BYTES = 8 * 1024;

/** A file whose edits may take the fast lane: last read as a small file of EndpointSlices only. */
export function takesFastLane(loaded: { readonly text: string; readonly records: readonly ClusterRecord[] }): boolean {
  // The length first: a string is at least as many bytes as characters, and measuring the
  // bytes of the 12 MB of a 10,000-Ingress directory after every rescan is what made this check
  // cost O(all manifests) in a profile.
  return (
    loaded.records.length > 0 &&
    loaded.text.length <= FAST_LANE_MAX_BYTES &&
    Buffer.byteLength(loaded.text) <= FAST_LANE_MAX_BYTES &&
    loaded.records.every((record) => record.kind === 'EndpointSlice')
  );
}

function identityOf(record: ClusterRecord): string {
  return `${record.kind}\u0000${record.key}`;
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export class ManifestSource {
  readonly #options: ManifestSourceOptions;
  readonly #debouncer: Debouncer;
  /** last good objects per file */
  readonly #files = new Map<string, LoadedFile>();
  /** the broken text last reported per file, so the same error is logged once */
  readonly #reportedBroken = new Map<string, string>();
  readonly #reportedMissing = new Set<string>();
  readonly #reportedConflicts = new Set<string>();
  /** files seen empty after holding objects, with the clock time they were first seen so */
  readonly #emptySince = new Map<string, number>();
  readonly #clock: Clock;
  /** what the sink holds, by kind + key */
  readonly #applied = new Map<string, ClusterRecord>();
  /** the file each applied object came from */
  readonly #definedIn = new Map<string, string>();
  /** the file list of the last scan, in order; a different list means a full rebuild */
  #lastFiles: readonly string[] = [];
  /** some object is defined in more than one file: which one wins needs the full order */
  #definedTwice = false;
  readonly #watchers = new Map<string, FSWatcher>();
  /** absolute paths of the files whose edits take the fast lane (`takesFastLane`) */
  #fastLaneFiles = new Set<string>();
  #scanning: Promise<ScanSummary> | undefined;
  #scanAgain = false;
  #loaded = false;
  #closed = false;

  constructor(options: ManifestSourceOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#debouncer = createDebouncer({
      holdoffMs: options.holdoffMs,
      maxDelayMs: options.maxDelayMs,
      clock: this.#clock,
      run: () => {
        this.rescan().catch((error: unknown) => this.#options.logger.error({ err: error }, 'manifest rescan failed'));
      },
    });
  }

  /** Loads every manifest, marks the sink synced, and starts watching for edits. */
  async start(): Promise<ScanSummary> {
    // Watch first: an edit made while the first scan runs then triggers a second scan.
    await this.#ensureWatchers();
    const summary = await this.rescan();
    this.#loaded = true;
    this.#options.sink.markSynced();
    this.#options.logger.info(
      { paths: this.#options.paths, files: this.#files.size, objects: this.#applied.size },
      'manifests loaded',
    );
    return summary;
  }

  /** Reads everything again and applies the difference; concurrent calls coalesce. */
  rescan(): Promise<ScanSummary> {
    if (this.#scanning) {
      this.#scanAgain = true;
      return this.#scanning;
    }
    const run = async (): Promise<ScanSummary> => {
      let total = { upserts: 0, deletes: 0 };
      try {
        do {
          this.#scanAgain = false;
          const summary = await this.#scanOnce();
          total = { upserts: total.upserts + summary.upserts, deletes: total.deletes + summary.deletes };
        } while (this.#scanAgain && !this.#closed);
      } finally {
        this.#scanning = undefined;
      }
      return total;
    };
    this.#scanning = run();
    return this.#scanning;
  }

  /** the source contract shared with cluster mode */
  async stop(): Promise<void> {
    this.close();
  }

  close(): void {
    this.#closed = true;
    this.#debouncer.cancel();
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
  }

  async #listFiles(): Promise<string[]> {
    const files: string[] = [];
    for (const path of this.#options.paths) {
      try {
        files.push(...(await listManifestFiles([path])));
        this.#reportedMissing.delete(path);
      } catch (error) {
        if (!isMissing(error)) throw error;
        if (!this.#reportedMissing.has(path)) {
          this.#reportedMissing.add(path);
          this.#options.logger.warn({ path }, 'manifest path is gone; its objects are removed');
        }
      }
    }
    return [...new Set(files)];
  }

  async #scanOnce(): Promise<ScanSummary> {
    if (this.#closed) return { upserts: 0, deletes: 0 };
    const { logger } = this.#options;
    const readText = this.#options.readText ?? readUtf8;
    const files = await this.#listFiles();
    const listed = new Set(files);
    /** the files whose objects changed, with their objects before the change */
    const previous = new Map<string, readonly ClusterRecord[]>();

    // Every file's stat at once, not one after another: each is a trip through libuv's thread
    // pool, and on a busy machine each trip waits its turn (this is on the endpoint path).
    // stat before the read: a write in between then shows as a new stamp next time.
    const stats = await Promise.all(
      files.map((file) =>
        stat(file, { bigint: true }).then(
          (info) => ({ stamp: statKey(info) }),
          (error: unknown) => ({ error }),
        ),
      ),
    );
    for (const [index, file] of files.entries()) {
      const known = this.#files.get(file);
      const statted = stats[index] as { stamp: string } | { error: unknown };
      let stamp: string;
      let text: string;
      try {
        if ('error' in statted) throw statted.error;
        stamp = statted.stamp;
        if (known?.stamp === stamp) continue;
        text = await readText(file);
      } catch (error) {
        if (isMissing(error)) {
          listed.delete(file);
          continue;
        }
        throw error;
      }
      if (this.#holdWhileUnconfirmedEmpty(file, text, known)) continue;
      if (known?.text === text) {
        this.#files.set(file, { ...known, stamp });
        continue;
      }
      let parsed: ReturnType<typeof parseManifestText>;
      try {
        parsed = parseManifestText(text, file);
      } catch (error) {
        parsed = { records: [], problems: [{ file, message: error instanceof Error ? error.message : String(error) }] };
      }
      const problem = parsed.problems[0];
      if (problem) {
        if (this.#reportedBroken.get(file) !== text) {
          this.#reportedBroken.set(file, text);
          logger.error(
            { file, problems: parsed.problems.length, kept: known?.records.length ?? 0 },
            `${file}: ${problem.message}; keeping the file's last good objects`,
          );
        }
        continue;
      }
      this.#reportedBroken.delete(file);
      this.#files.set(file, { text, records: parsed.records, stamp });
      previous.set(file, known?.records ?? []);
    }
    for (const [file, loaded] of [...this.#files]) {
      if (!listed.has(file)) {
        this.#files.delete(file);
        this.#reportedBroken.delete(file);
        previous.set(file, loaded.records);
      }
    }

    const sameFiles = files.length === this.#lastFiles.length && files.every((f, i) => f === this.#lastFiles[i]);
    const desired =
      sameFiles && !this.#definedTwice ? this.#desiredFromChangedFiles(previous) : this.#desiredFromAllFiles(files);
    this.#lastFiles = files;

    const changes: ClusterChange[] = [];
    let deletes = 0;
    for (const [identity, record] of desired) {
      const current = this.#applied.get(identity);
      if (record === undefined) {
        if (current !== undefined) {
          changes.push({ type: 'delete', kind: current.kind, key: current.key });
          deletes++;
        }
      } else if (current !== record && !isDeepStrictEqual(current, record)) {
        changes.push({ type: 'upsert', record });
      }
    }
    if (this.#closed) return { upserts: 0, deletes: 0 };
    this.#options.sink.applyChanges(changes);
    for (const [identity, record] of desired) {
      if (record === undefined) this.#applied.delete(identity);
      else this.#applied.set(identity, record);
    }
    if (changes.length > 0 && this.#loaded) {
      logger.info({ files: [...previous.keys()], upserts: changes.length - deletes, deletes }, 'manifests changed');
    }
    if (this.#options.fastHoldoffMs !== undefined) {
      this.#fastLaneFiles = new Set(
        [...this.#files].filter(([, loaded]) => takesFastLane(loaded)).map(([file]) => resolve(file)),
      );
    }
    await this.#ensureWatchers();
    return { upserts: changes.length - deletes, deletes };
  }

  /** A watched directory saw `name` change: how long this burst should wait (see the top). */
  #holdoffFor(directory: string, name: string | null): number {
    const { holdoffMs, fastHoldoffMs } = this.#options;
    if (fastHoldoffMs === undefined || name === null) return holdoffMs;
    return this.#fastLaneFiles.has(join(directory, name)) ? Math.min(fastHoldoffMs, holdoffMs) : holdoffMs;
  }

  /**
   * Every object's wanted state (undefined: gone) from every file, in order: the later file
   * wins. Rebuilds `#definedIn` and `#definedTwice`.
   */
  #desiredFromAllFiles(files: readonly string[]): Map<string, ClusterRecord | undefined> {
    const { logger } = this.#options;
    const desired = new Map<string, ClusterRecord | undefined>();
    for (const identity of this.#applied.keys()) desired.set(identity, undefined);
    this.#definedIn.clear();
    this.#definedTwice = false;
    for (const file of files) {
      for (const record of this.#files.get(file)?.records ?? []) {
        const identity = identityOf(record);
        const earlier = this.#definedIn.get(identity);
        if (earlier !== undefined && earlier !== file) {
          this.#definedTwice = true;
          if (!this.#reportedConflicts.has(identity)) {
            this.#reportedConflicts.add(identity);
            logger.warn(
              { object: `${record.kind} ${record.key}`, files: [earlier, file] },
              'object defined twice; the later file wins',
            );
          }
        }
        this.#definedIn.set(identity, file);
        desired.set(identity, record);
      }
    }
    return desired;
  }

  /**
   * The wanted state of the objects the changed files held or hold, when the file list is the
   * same and every object had one file. Falls back to the full rebuild when an object would now
   * be defined twice (by a changed file and another file).
   */
  #desiredFromChangedFiles(
    previous: ReadonlyMap<string, readonly ClusterRecord[]>,
  ): Map<string, ClusterRecord | undefined> {
    const desired = new Map<string, ClusterRecord | undefined>();
    const claimedBy = new Map<string, string>();
    for (const file of previous.keys()) {
      for (const record of this.#files.get(file)?.records ?? []) {
        const identity = identityOf(record);
        const owner = claimedBy.get(identity) ?? this.#definedIn.get(identity);
        // held by another file that keeps it (unchanged, or changed and claiming it too)
        const ownerKeepsIt = owner !== undefined && owner !== file && (!previous.has(owner) || claimedBy.has(identity));
        if (ownerKeepsIt) return this.#desiredFromAllFiles(this.#lastFiles);
        claimedBy.set(identity, file);
        desired.set(identity, record);
      }
    }
    for (const [file, records] of previous) {
      for (const record of records) {
        const identity = identityOf(record);
        if (this.#definedIn.get(identity) === file && !claimedBy.has(identity)) {
          desired.set(identity, undefined);
          this.#definedIn.delete(identity);
        }
      }
    }
    for (const [identity, file] of claimedBy) this.#definedIn.set(identity, file);
    return desired;
  }

  /**
   * One non-recursive watcher per directory: each directory argument and every directory below
   * it (walked again after each rescan, so new subdirectories are picked up), and the directory
   * holding each file argument. Not `recursive: true`: on Linux (Node 24) a recursive watcher
   * goes deaf after the first file in it is replaced by rename, which is how editors and
   * ConfigMap volumes update files.
   */
  /** true while `file` should keep its last objects because its emptiness is not yet confirmed */
  #holdWhileUnconfirmedEmpty(file: string, text: string, known: LoadedFile | undefined): boolean {
    if (text.trim() !== '' || !known || known.records.length === 0) {
      this.#emptySince.delete(file);
      return false;
    }
    const confirmMs = this.#options.emptyConfirmMs ?? 1000;
    const since = this.#emptySince.get(file);
    if (since === undefined) {
      this.#emptySince.set(file, this.#clock.now());
      this.#clock.setTimer(() => {
        if (!this.#closed) this.#debouncer.request();
      }, confirmMs);
      return true;
    }
    if (this.#clock.now() - since < confirmMs) return true;
    this.#emptySince.delete(file);
    this.#options.logger.warn({ file, removed: known.records.length }, `${file} is empty; its objects are removed`);
    return false;
  }

  async #ensureWatchers(): Promise<void> {
    const targets = new Set<string>();
    for (const path of this.#options.paths) {
      try {
        const info = await stat(path);
        // A file is watched through its directory: a watcher on the file's inode would go
        // deaf when the file is replaced by rename.
        if (info.isDirectory()) for (const directory of await listDirectories(resolve(path))) targets.add(directory);
        else targets.add(resolve(dirname(path)));
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
    }
    for (const [target, watcher] of this.#watchers) {
      if (!targets.has(target)) {
        watcher.close();
        this.#watchers.delete(target);
      }
    }
    for (const target of targets) {
      if (this.#closed) return;
      if (this.#watchers.has(target)) continue;
      try {
        const watcher = watch(target, { persistent: false }, (_event, name) =>
          this.#debouncer.request(this.#holdoffFor(target, name)),
        );
        watcher.on('error', (error: unknown) => {
          this.#options.logger.warn({ err: error, path: target }, 'manifest watch stopped');
          watcher.close();
          this.#watchers.delete(target);
          this.#debouncer.request();
        });
        this.#watchers.set(target, watcher);
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
    }
  }
}

/** `root` and every directory below it, hidden ones excepted (as manifests are listed). */
async function listDirectories(root: string): Promise<string[]> {
  const directories = [root];
  for (const entry of await readdir(root, { withFileTypes: true }).catch(() => [])) {
    if (entry.isDirectory() && !entry.name.startsWith('.'))
      directories.push(...(await listDirectories(join(root, entry.name))));
  }
  return directories;
}
