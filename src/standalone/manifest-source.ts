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
// When two files define the same object, the later file (in argument and name order) wins.

import { type FSWatcher, watch } from 'node:fs';
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
  /** how long a file that turned empty must stay empty before its objects go (default 1 s) */
  readonly emptyConfirmMs?: number;
  readonly clock?: Clock;
}

interface LoadedFile {
  readonly text: string;
  readonly records: readonly ClusterRecord[];
}

export interface ScanSummary {
  readonly upserts: number;
  readonly deletes: number;
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
  #applied = new Map<string, ClusterRecord>();
  readonly #watchers = new Map<string, FSWatcher>();
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
    const files = await this.#listFiles();
    const listed = new Set(files);
    const changedFiles: string[] = [];

    for (const file of files) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        if (isMissing(error)) {
          listed.delete(file);
          continue;
        }
        throw error;
      }
      const known = this.#files.get(file);
      if (this.#holdWhileUnconfirmedEmpty(file, text, known)) continue;
      if (known?.text === text) continue;
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
      this.#files.set(file, { text, records: parsed.records });
      changedFiles.push(file);
    }
    for (const file of [...this.#files.keys()]) {
      if (!listed.has(file)) {
        this.#files.delete(file);
        this.#reportedBroken.delete(file);
        changedFiles.push(file);
      }
    }

    const desired = new Map<string, ClusterRecord>();
    const definedIn = new Map<string, string>();
    for (const file of files) {
      for (const record of this.#files.get(file)?.records ?? []) {
        const identity = identityOf(record);
        const earlier = definedIn.get(identity);
        if (earlier !== undefined && earlier !== file && !this.#reportedConflicts.has(identity)) {
          this.#reportedConflicts.add(identity);
          logger.warn(
            { object: `${record.kind} ${record.key}`, files: [earlier, file] },
            'object defined twice; the later file wins',
          );
        }
        definedIn.set(identity, file);
        desired.set(identity, record);
      }
    }

    const changes: ClusterChange[] = [];
    for (const [identity, record] of desired) {
      const current = this.#applied.get(identity);
      if (current !== record && !isDeepStrictEqual(current, record)) changes.push({ type: 'upsert', record });
    }
    let deletes = 0;
    for (const [identity, record] of this.#applied) {
      if (!desired.has(identity)) {
        changes.push({ type: 'delete', kind: record.kind, key: record.key });
        deletes++;
      }
    }
    if (this.#closed) return { upserts: 0, deletes: 0 };
    this.#options.sink.applyChanges(changes);
    this.#applied = desired;
    if (changes.length > 0 && this.#loaded) {
      logger.info({ files: changedFiles, upserts: changes.length - deletes, deletes }, 'manifests changed');
    }
    await this.#ensureWatchers();
    return { upserts: changes.length - deletes, deletes };
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
        const watcher = watch(target, { persistent: false }, () => this.#debouncer.request());
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
