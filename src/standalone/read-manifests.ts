// Manifest files and directories → records, for standalone mode and `portico explain`.
// Multi-document YAML or JSON, including `kind: List`. Unknown kinds are skipped (a
// manifest set usually holds Deployments too); broken documents are reported by file.

import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { ClusterRecord } from '../model/records.ts';
import { NORMALIZED_KINDS, normalizeObject } from '../normalize/normalize-object.ts';
import { asArray, asObject, asString } from '../normalize/plain-json.ts';

export interface ManifestProblem {
  readonly file: string;
  readonly message: string;
}

export interface ManifestSet {
  readonly records: readonly ClusterRecord[];
  /** documents that could not be read; the caller decides whether that is fatal */
  readonly problems: readonly ManifestProblem[];
  readonly files: readonly string[];
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);
const KNOWN_KINDS: ReadonlySet<string> = new Set(NORMALIZED_KINDS);

/** Expands each argument (file or directory, directories not recursed into hidden entries). */
export async function listManifestFiles(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    const info = await stat(path);
    if (info.isDirectory()) {
      const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
      for (const entry of entries) {
        if (entry.name.startsWith('.')) continue;
        const child = join(path, entry.name);
        if (entry.isDirectory()) files.push(...(await listManifestFiles([child])));
        else if (MANIFEST_EXTENSIONS.has(extname(entry.name))) files.push(child);
      }
    } else {
      files.push(path);
    }
  }
  return files;
}

export function parseManifestText(
  text: string,
  file: string,
): { records: ClusterRecord[]; problems: ManifestProblem[] } {
  const records: ClusterRecord[] = [];
  const problems: ManifestProblem[] = [];
  const documents = parseAllDocuments(text, { uniqueKeys: true });
  const list = Array.isArray(documents) ? documents : [documents];
  for (const document of list) {
    if (document.errors.length > 0) {
      // The yaml package's first line ends with ':' before a code frame; the frame is dropped.
      const firstLine = document.errors[0]?.message.split('\n')[0]?.replace(/:$/, '');
      problems.push({ file, message: firstLine || 'YAML error' });
      continue;
    }
    collectObjects(document.toJS({ maxAliasCount: 100 }), file, records, problems);
  }
  return { records, problems };
}

function collectObjects(value: unknown, file: string, records: ClusterRecord[], problems: ManifestProblem[]): void {
  if (value === null || value === undefined) return;
  const object = asObject(value);
  if (!object) {
    problems.push({ file, message: 'document is not a Kubernetes object' });
    return;
  }
  const kind = asString(object.kind);
  if (kind === 'List' || kind?.endsWith('List')) {
    for (const item of asArray(object.items)) collectObjects(item, file, records, problems);
    return;
  }
  if (kind !== undefined && !KNOWN_KINDS.has(kind)) return;
  const normalized = normalizeObject(object);
  if (normalized.ok) records.push(normalized.record);
  else problems.push({ file, message: normalized.error });
}

export async function readManifests(paths: readonly string[]): Promise<ManifestSet> {
  const files = await listManifestFiles(paths);
  const records: ClusterRecord[] = [];
  const problems: ManifestProblem[] = [];
  for (const file of files) {
    const parsed = parseManifestText(await readFile(file, 'utf8'), file);
    records.push(...parsed.records);
    problems.push(...parsed.problems);
  }
  return { records, problems, files };
}
