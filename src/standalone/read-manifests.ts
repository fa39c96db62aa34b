// Manifest files and directories → records, for standalone mode and `portico explain`.
// Multi-document YAML or JSON, including `kind: List`. Unknown kinds are skipped (a
// manifest set usually holds Deployments too); broken documents are reported by file.

import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { CORE_SCHEMA, load } from 'js-yaml';
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
 * Plain manifests (what kubectl, Helm and most editors write) take the fast path below; any
 * stream it declines, or any document it cannot read, is parsed by the yaml package, whose
 * error messages carry positions. Both read YAML 1.2 with the core schema.
 */
export function parseManifestText(
  text: string,
  file: string,
): { records: ClusterRecord[]; problems: ManifestProblem[] } {
  return parsePlainStream(text, file) ?? parseWithYamlPackage(text, file);
}

/**
 * The reference path (and the one for any stream the fast path declines), exported for the
 * tests that hold the two to the same results. One document at a time: `parseAllDocuments` keeps every document's syntax tree until the
 * last one is read. Parsing one file of 10,000 Ingresses peaked at 363 MB RSS that way and
 * 126 MB this way (and RSS stays near its peak long after the parse: `npm run bench:scale`).
 */
export function parseWithYamlPackage(
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

/**
 * A line that is a bare document marker: `---`, optionally followed by a comment. YAML forbids
 * such a line inside any scalar or collection (spec 9.1.4, c-forbidden), so splitting on it
 * never cuts a document.
 */
const BARE_DOCUMENT_START = /^---[ \t\r]*(?:#.*)?$/m;
/**
 * What the fast path leaves to the yaml package: directives (`%YAML`), document end markers
 * (`...`) and content on a `---` line, which belong to the next document in ways a split
 * would get wrong; and U+2028/U+2029, line ends to a JavaScript regex but not to YAML.
 */
const NOT_PLAIN = /^(?:%|\.\.\.(?:[ \t\r]|$)|---[ \t]+[^\s#])|[\u2028\u2029]/m;
const LOAD_OPTIONS = { schema: CORE_SCHEMA, maxAliases: 0 } as const;

/**
 * The fast path: the stream split at bare `---` lines, each document read by js-yaml, about 4x
 * faster than the yaml package and with far less garbage (at 10,000 Ingresses, Services and
 * EndpointSlices, the parse was 12.5 of the 15.6 s to ready). Declines (undefined) a stream
 * that is not plain (NOT_PLAIN), or whose documents js-yaml refuses: a syntax error, a duplicate
 * key, an unknown tag, or any alias (`maxAliases: 0`; the yaml package bounds their expansion).
 */
function parsePlainStream(
  text: string,
  file: string,
): { records: ClusterRecord[]; problems: ManifestProblem[] } | undefined {
  const records: ClusterRecord[] = [];
  const problems: ManifestProblem[] = [];
  const documents = plainDocuments(text);
  for (let next = documents.next(); ; next = documents.next()) {
    if (next.done) return next.value === 'read' ? { records, problems } : undefined;
    collectObjects(next.value, file, records, problems);
  }
}

/**
 * The values of a plain stream's documents, one at a time (so only one document's garbage is
 * alive at once); returns 'declined' as soon as the stream turns out not to be for the fast path.
 */
export function* plainDocuments(text: string): Generator<unknown, 'read' | 'declined'> {
  if (NOT_PLAIN.test(text)) return 'declined';
  for (const document of text.split(BARE_DOCUMENT_START)) {
    if (!holdsContent(document)) continue;
    let value: unknown;
    try {
      value = load(document, LOAD_OPTIONS);
    } catch {
      return 'declined';
    }
    yield value;
  }
  return 'read';
}

/** false for a document of blank and comment lines only (js-yaml refuses an empty source) */
function holdsContent(document: string): boolean {
  let start = 0;
  while (start < document.length) {
    let end = document.indexOf('\n', start);
    if (end === -1) end = document.length;
    const line = document.slice(start, end).trim();
    if (line !== '' && !line.startsWith('#')) return true;
    start = end + 1;
  }
  return false;
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
