// Which capture files are already fully indexed, so that a run started again
// with the same arguments skips them (resume after Ctrl-C, a crash or a reboot).
//
// The state lives in Elasticsearch, next to the packets, in the index
// espcap-ingest-state: one document per capture (and display filter) written
// once every packet of the file is settled. Its id is the capture's identity
// (capture-id.ts), so a file moved or renamed is still recognised. A file is
// skipped only if the packets are still there too: the packets-* indices must
// hold at least as many documents with its capture_id as the state recorded
// (indices deleted or expired since make the file run again). A file indexed
// in part is simply indexed again: documents already there are duplicates by id.
// While a capture is being read, its state document is a claim (claims.ts).
import { createHash } from 'node:crypto';
import { Client, errors } from '@elastic/elasticsearch';
import { deadline, withRetries } from './cluster';

export const STATE_INDEX = 'espcap-ingest-state';

export interface FinishedCapture {
  captureId: string;
  path: string;
  size: number;
  packets: number;
  indexed: number;
  duplicates: number;
}

interface StateDocument {
  /** "claimed" while a process reads the capture (claims.ts); "done" (or none, before claims) once finished. */
  status?: 'claimed' | 'done';
  host_id?: string;
  capture_id: string;
  filter: string | null;
  path: string;
  size: number;
  packets: number;
  indexed: number;
  duplicates: number;
  finished: string;
}

/** Lookups are sent this many captures at a time. */
const CHUNK = 1000;

export class IngestState {
  /** The versions of the state documents of this run's captures, as the start of the run found them. */
  private readonly atStart = new Map<string, { seqNo: number; primaryTerm: number }>();

  constructor(
    private readonly client: Client,
    /** The display filter of the run: a filtered run covers only part of a file. */
    readonly filter: string | undefined,
    /** How long a request keeps being retried while the cluster is away (--retry-deadline). */
    private readonly retryDeadlineMs: number,
    /** The packet indices, where the packets of a finished capture must still be: packets-*. */
    private readonly packetIndices: string,
    /** Who records finished captures (--host-id). */
    private readonly hostId?: string,
  ) {}

  private retrying<T>(request: () => Promise<T>): Promise<T> {
    return withRetries(request, deadline(this.retryDeadlineMs));
  }

  /** The id of a capture's state document, for this run's filter (or for the unfiltered run). */
  stateId(captureId: string, filter: string | undefined = this.filter): string {
    return filter === undefined ? captureId : `${captureId}-${createHash('sha256').update(filter).digest('hex').slice(0, 12)}`;
  }

  /** Creates the state index, if there is none, so that a single node holds it whole (no replica left unassigned). */
  async ensureIndex(): Promise<void> {
    try {
      await this.retrying(() =>
        this.client.indices.create({ index: STATE_INDEX, settings: { 'index.number_of_shards': 1, 'index.number_of_replicas': 0, 'index.auto_expand_replicas': '0-1' } }),
      );
    } catch (err) {
      const type = err instanceof errors.ResponseError ? (err.meta.body as { error?: { type?: string } })?.error?.type : undefined;
      if (type !== 'resource_already_exists_exception') throw err;
    }
  }

  /** Whether a state document is still the version finished() found at the start of the run. */
  sameAsAtStart(id: string, version: { seqNo: number; primaryTerm: number }): boolean {
    const start = this.atStart.get(id);
    return start !== undefined && start.seqNo === version.seqNo && start.primaryTerm === version.primaryTerm;
  }

  /**
   * Refreshes the packet indices: every document indexed so far becomes
   * visible to searches. `retry: false` makes one attempt (at the end of a
   * run, when a cluster that is away has been reported already).
   */
  async makeSearchable({ retry = true } = {}): Promise<void> {
    const refresh = () => this.client.indices.refresh({ index: this.packetIndices, allow_no_indices: true, ignore_unavailable: true }, retry ? {} : { maxRetries: 0 });
    await (retry ? this.retrying(refresh) : refresh());
  }

  /** The capture ids among `captureIds` whose packets are all indexed (by an unfiltered run, or one with this run's filter). */
  async finished(captureIds: string[]): Promise<Set<string>> {
    const done = new Set<string>();
    // What a refreshed search would count must include documents still in the indexing buffer.
    await this.makeSearchable();
    for (let i = 0; i < captureIds.length; i += CHUNK) {
      const ids = captureIds.slice(i, i + CHUNK);
      const wanted = new Map<string, string>(); // state id -> capture id
      for (const id of ids) {
        wanted.set(this.stateId(id, undefined), id);
        if (this.filter !== undefined) wanted.set(this.stateId(id), id);
      }
      let recorded: Map<string, number>;
      try {
        const response = await this.retrying(() => this.client.mget<StateDocument>({ index: STATE_INDEX, ids: [...wanted.keys()] }));
        recorded = new Map();
        for (const doc of response.docs) {
          if (!('found' in doc) || !doc.found || !doc._source) continue;
          if (doc._id === this.stateId(wanted.get(doc._id)!)) this.atStart.set(doc._id, { seqNo: doc._seq_no!, primaryTerm: doc._primary_term! });
          if (doc._source.status === 'claimed') continue; // being read, or its reader died: not finished
          const captureId = wanted.get(doc._id)!;
          recorded.set(captureId, Math.max(recorded.get(captureId) ?? 0, doc._source.packets));
        }
      } catch (err) {
        if (err instanceof errors.ResponseError && err.meta.statusCode === 404) continue; // no state index yet
        throw err;
      }
      if (!recorded.size) continue;
      const stored = await this.storedPackets([...recorded.keys()]);
      for (const [captureId, packets] of recorded) if ((stored.get(captureId) ?? 0) >= packets) done.add(captureId);
    }
    return done;
  }

  /** Documents per capture id in the packet indices. */
  private async storedPackets(captureIds: string[]): Promise<Map<string, number>> {
    const response = await this.retrying(() => this.client.search({
      index: this.packetIndices,
      allow_no_indices: true,
      ignore_unavailable: true,
      size: 0,
      query: { terms: { capture_id: captureIds } },
      aggs: { captures: { terms: { field: 'capture_id', size: captureIds.length } } },
    }));
    const buckets = (response.aggregations?.captures as { buckets: { key: string; doc_count: number }[] } | undefined)?.buckets ?? [];
    return new Map(buckets.map((b) => [b.key, b.doc_count]));
  }

  /** Records a capture whose every packet is indexed. */
  async record(capture: FinishedCapture): Promise<void> {
    const document: StateDocument = {
      status: 'done',
      ...(this.hostId === undefined ? {} : { host_id: this.hostId }),
      capture_id: capture.captureId,
      filter: this.filter ?? null,
      path: capture.path,
      size: capture.size,
      packets: capture.packets,
      indexed: capture.indexed,
      duplicates: capture.duplicates,
      finished: new Date().toISOString(),
    };
    await this.retrying(() => this.client.index({ index: STATE_INDEX, id: this.stateId(capture.captureId), document }));
  }
}
