// Manifest files and directories → records, for standalone mode and `portico explain`.
// Multi-document YAML or JSON, including `kind: List`. Unknown kinds are skipped (a
// manifest set usually holds Deployments too); broken documents are reported by file.

import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { Composer, LineCounter, Parser, type YAMLError } from 'yaml';
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

/**
 * One document at a time: `parseAllDocuments` keeps every document's syntax tree until the
 * last one is read. Parsing one file of 10,000 Ingresses peaked at 363 MB RSS that way and
 * 126 MB this way (and RSS stays near its peak long after the parse: `npm run bench:scale`).
 */
export function parseManifestText(
  text: string,
  file: string,
): { records: ClusterRecord[]; problems: ManifestProblem[] } {
  const records: ClusterRecord[] = [];
  const problems: ManifestProblem[] = [];
  const lines = new LineCounter();
  const documents = new Composer({ uniqueKeys: true }).compose(new Parser(lines.addNewLine).parse(text));
  for (const document of documents) {
    const error = document.errors[0];
    if (error) {
      problems.push({ file, message: firstLineOf(error, lines) });
      continue;
    }
    collectObjects(document.toJS({ maxAliasCount: 100 }), file, records, problems);
  }
  return { records, problems };
}

/** The error's message and position, as the first line of the yaml package's pretty error. */
function firstLineOf(error: YAMLError, lines: LineCounter): string {
  const message = error.message.split('\n')[0] || 'YAML error';
  if (error.pos[0] === -1) return message;
  const { line, col } = lines.linePos(error.pos[0]);
  return `${message} at line ${line}, column ${col}`;
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
