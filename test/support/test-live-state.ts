// A LiveState for data-plane tests: the real manifest reader and compiler build the table;
// endpoint sets come from the EndpointSlices through the real `endpointsForBackend`, and a
// test replaces slices to move endpoints (bumping `version`) without recompiling.

import { compile } from '../../src/compile/compile.ts';
import {
  type Endpoint,
  endpointsForBackend,
  indexSlicesByService,
  type ServiceBackend,
} from '../../src/endpoints/service-endpoints.ts';
import type { ClusterRecord, EndpointSliceRecord } from '../../src/model/records.ts';
import type { EndpointView, LiveState, RoutingState } from '../../src/runtime/live-state.ts';
import { parseManifestText } from '../../src/standalone/read-manifests.ts';
import { snapshotFromRecords } from '../../src/store/cluster-snapshot.ts';

export function recordsFromYaml(text: string): ClusterRecord[] {
  const { records, problems } = parseManifestText(text, 'test.yaml');
  if (problems.length > 0) throw new Error(`test manifests: ${problems.map((problem) => problem.message).join('; ')}`);
  return records;
}

class TestEndpointView implements EndpointView {
  version = 0;
  #slices = new Map<string, EndpointSliceRecord>();
  #index: ReadonlyMap<string, readonly EndpointSliceRecord[]> = new Map();
  #cache = new Map<string, readonly Endpoint[]>();

  endpointsFor(backend: ServiceBackend): readonly Endpoint[] {
    const key = `${backend.serviceKey}\0${backend.servicePortName}`;
    let endpoints = this.#cache.get(key);
    if (endpoints === undefined) {
      endpoints = Object.freeze(endpointsForBackend(backend, this.#index.get(backend.serviceKey)));
      this.#cache.set(key, endpoints);
    }
    return endpoints;
  }

  /** Upserts `slices`; with `exclusive`, first drops every other slice of the same Services. */
  replaceSlices(slices: readonly EndpointSliceRecord[], exclusive = false): void {
    if (exclusive) {
      const services = new Set(slices.map((slice) => `${slice.namespace}/${slice.serviceName}`));
      for (const [key, slice] of this.#slices) {
        if (services.has(`${slice.namespace}/${slice.serviceName}`)) this.#slices.delete(key);
      }
    }
    for (const slice of slices) this.#slices.set(slice.key, slice);
    this.#rebuild();
  }

  deleteSlice(key: string): void {
    this.#slices.delete(key);
    this.#rebuild();
  }

  #rebuild(): void {
    this.#index = indexSlicesByService(this.#slices.values());
    this.#cache = new Map();
    this.version++;
  }
}

export class TestLiveState implements LiveState {
  readonly endpoints = new TestEndpointView();
  /** `object: Code` for each diagnostic of the last compile (a missing Service is one, on purpose) */
  diagnostics: string[] = [];
  #routing: RoutingState;

  constructor(yaml: string) {
    this.#routing = { table: compile(snapshotFromRecords([])).table, generation: 0 };
    this.load(yaml);
  }

  routing(): RoutingState {
    return this.#routing;
  }

  /** Recompiles routes from every non-slice object in `yaml` and upserts its slices. */
  load(yaml: string): void {
    const records = recordsFromYaml(yaml);
    const slices = records.filter((record): record is EndpointSliceRecord => record.kind === 'EndpointSlice');
    const { table, diagnostics } = compile(snapshotFromRecords(records));
    this.diagnostics = diagnostics.map((diagnostic) => `${diagnostic.object}: ${diagnostic.code}`);
    this.#routing = { table, generation: this.#routing.generation + 1 };
    this.endpoints.replaceSlices(slices);
  }

  /**
   * The endpoint fast path, no new table: the slices in `yaml` become the only slices of their
   * Services.
   */
  updateSlices(yaml: string): void {
    const slices = recordsFromYaml(yaml).filter(
      (record): record is EndpointSliceRecord => record.kind === 'EndpointSlice',
    );
    this.endpoints.replaceSlices(slices, true);
  }
}
