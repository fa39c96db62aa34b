// Fixture files: test/fixtures/routing/<case-name>.yaml hold Kubernetes objects plus one
// document of `kind: RoutingExpectations` with options, expectation rows and the exact set
// of diagnostics compile must produce.
//
// Row grammar:  METHOD URL [Header: value ;]... -> [STATUS] [ns/service:port] [key=value]...
//   keys: upstream=<path>  location=<url>  ingress=<ns/name>  rule=<path>  endpoints=<a,b>
//         header.<lowercase-name>=<value upstream>   (the value `null` means absent)
//         canary=<ns/service:port>@<weight>/<total>   (a canary only a weighted roll decides)
//   e.g.  GET hello-world.info/v2 -> default/web2:8080
//         GET http://foo.com/a -> 308 location=https://foo.com/a

import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { type CompileOptions, DEFAULT_COMPILE_OPTIONS } from '../../src/compile/compile-options.ts';
import { parseManifestText } from '../../src/standalone/read-manifests.ts';
import { type ClusterSnapshot, snapshotFromRecords } from '../../src/store/cluster-snapshot.ts';

export interface ExpectationRow {
  readonly text: string;
  readonly method: string;
  readonly url: string;
  readonly headers: ReadonlyMap<string, string>;
  readonly status: number | undefined;
  readonly backend: string | undefined;
  readonly keys: ReadonlyMap<string, string>;
}

export interface RoutingFixture {
  readonly name: string;
  readonly snapshot: ClusterSnapshot;
  readonly options: CompileOptions;
  readonly rows: readonly ExpectationRow[];
  /** `Ingress ns/name: Code` strings, compared as an exact multiset */
  readonly diagnostics: readonly string[];
}

export const ROUTING_FIXTURE_DIR = new URL('../fixtures/routing/', import.meta.url).pathname;

export function parseRow(text: string): ExpectationRow {
  const arrow = text.indexOf(' -> ');
  if (arrow === -1) throw new Error(`row has no " -> ": ${text}`);
  const left = text.slice(0, arrow).trim();
  const right = text.slice(arrow + 4).trim();
  const [request, ...headerParts] = left.split(' ; ');
  const [method, url, ...firstHeader] = (request ?? '').split(' ');
  if (!method || !url) throw new Error(`row needs METHOD URL: ${text}`);
  const headers = new Map<string, string>();
  for (const header of [firstHeader.join(' '), ...headerParts].filter(Boolean)) {
    const colon = header.indexOf(':');
    headers.set(header.slice(0, colon).trim().toLowerCase(), header.slice(colon + 1).trim());
  }
  let status: number | undefined;
  let backend: string | undefined;
  const keys = new Map<string, string>();
  for (const token of right.split(/\s+/)) {
    if (/^\d{3}$/.test(token)) status = Number(token);
    else if (token.includes('=')) keys.set(token.slice(0, token.indexOf('=')), token.slice(token.indexOf('=') + 1));
    else if (/^[^/\s]+\/[^:\s]+:\S+$/.test(token)) backend = token;
    else throw new Error(`cannot read ${JSON.stringify(token)} in row: ${text}`);
  }
  if (status === undefined && backend === undefined) throw new Error(`row expects nothing: ${text}`);
  return { text, method, url, headers, status, backend, keys };
}

export function loadRoutingFixture(file: string): RoutingFixture {
  const text = readFileSync(file, 'utf8');
  const expectationDocs = parseAllDocuments(text)
    .map((document) => document.toJS() as Record<string, unknown> | null)
    .filter((value) => value?.kind === 'RoutingExpectations');
  const expectations = expectationDocs[0];
  if (!expectations || expectationDocs.length !== 1)
    throw new Error(`${file}: needs exactly one RoutingExpectations document`);
  const { records, problems } = parseManifestText(text, file);
  if (problems.length > 0) throw new Error(`${file}: ${problems[0]?.message}`);
  const options = { ...DEFAULT_COMPILE_OPTIONS, ...((expectations.options as Partial<CompileOptions>) ?? {}) };
  return {
    name: basename(file, '.yaml'),
    snapshot: snapshotFromRecords(records),
    options,
    rows: ((expectations.expect as string[]) ?? []).map(parseRow),
    diagnostics: (expectations.diagnostics as string[]) ?? [],
  };
}

export function loadAllRoutingFixtures(): RoutingFixture[] {
  return readdirSync(ROUTING_FIXTURE_DIR)
    .filter((name) => name.endsWith('.yaml'))
    .sort()
    .map((name) => loadRoutingFixture(join(ROUTING_FIXTURE_DIR, name)));
}
