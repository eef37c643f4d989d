// Bulk-indexes documents into the index of each packet's UTC day, week, month
// or year (mapping.ts: indexName): packets-YYYY-MM-DD by default.
//
// - Bodies are assembled as bytes: an action line and the document per packet,
//   no per-document JSON round trip.
// - `create` with a deterministic _id (capture id + frame number): indexing the
//   same capture twice leaves one document per packet; a 409 is a duplicate.
// - Requests are cut by count (--chunk) and bytes, or after a second of
//   waiting (a quiet live link), several in flight; a slow cluster makes
//   write() wait, which slows reading the capture.
// - A request that fails as a whole (connection, timeout, 429, 502-504) is
//   retried with exponential backoff and jitter until the retry deadline;
//   items that fail for a passing reason (see transientItemError) are retried
//   the same way; any other item error, and whatever is still failing at the
//   deadline, goes to the dead-letter file with its reason. Nothing is
//   dropped silently.
// - A cluster that accepts no document at all for the retry deadline stops
//   the run (see expired()), rather than every later request waiting as long.
import * as fs from 'node:fs';
import { Client, errors } from '@elastic/elasticsearch';
import { BatchView, DocumentBuilder } from '../document';
import { Meta } from '../engine/engine';
import { EspcapError, warn, writeFailure } from '../errors';
import { FileCounts, noFileCounts, PacketSink } from '../sink';
import { backoff, describeError, retryable, sleep, withRetries } from './cluster';
import { describeRefusal, EsError, fieldLimitIn } from './refusals';
import { EsMapping, FIELD_BUDGET, fieldMapping, IndexLayout, indexName, layerFieldType, layerProperties, templateName } from './mapping';

export interface BulkOptions {
  /** Documents per bulk request (--chunk). */
  chunk: number;
  /** Bytes per bulk request at most (a single larger document still goes alone). */
  maxBytes: number;
  /** Bulk requests in flight at once. */
  inflight: number;
  /** How long a failing request keeps being retried. */
  retryDeadlineMs: number;
  deadLetterPath: string;
  /** The cluster has the unsigned_long type (see cluster.ts). */
  unsignedLong: boolean;
  /** index.refresh_interval of the indices espcap creates (--refresh-interval). */
  refreshInterval: string;
  /** Which index a packet goes to (--index-prefix, --index-period). */
  layout: IndexLayout;
  /** --quiet: no warning while retrying (the error that ends a run is always said). */
  quiet: boolean;
  /** Layer fields mapped per index at most: FIELD_BUDGET (lower only in tests, to reach it with real captures). */
  fieldBudget: number;
}

export interface IndexCounts {
  indexed: number;
  duplicates: number;
  deadLettered: number;
  /** Bulk requests (or item sets) sent again after a failure. */
  retries: number;
  /** Fields beyond the per-index budget, kept in _source but not searchable. */
  unmappedFields: number;
}

interface Item {
  index: string;
  id: string;
  body: Buffer; // the action line and the document line
  capture: CaptureTally;
  /**
   * A request with this item failed without an answer (connection lost,
   * timeout): the cluster may have indexed it, so a 409 on the retry means
   * this run indexed it, not an earlier run.
   */
  maybeIndexed?: boolean;
}

/** The documents of one capture not settled yet, and what became of the others. */
class CaptureTally {
  readonly counts: FileCounts = noFileCounts();
  outstanding = 0;
  private waiters: (() => void)[] = [];

  settle(kind: keyof FileCounts, n = 1): void {
    this.counts[kind] += n;
    this.outstanding -= n;
    if (this.outstanding === 0) for (const wake of this.waiters.splice(0)) wake();
  }

  whenSettled(): Promise<FileCounts> {
    if (this.outstanding === 0) return Promise.resolve({ ...this.counts });
    return new Promise((resolve) => this.waiters.push(() => resolve({ ...this.counts })));
  }
}

/** The longest a document waits for its bulk request to fill. */
const FLUSH_AFTER_MS = 1000;

/**
 * Item errors that pass, retried until the deadline: a node overloaded (429),
 * a shard whose node left while its copy elsewhere takes over (503), an index
 * blocked by an administrator or by the disk flood-stage watermark until it is
 * lifted (cluster_block_exception, 403 or 429).
 */
function transientItemError(status: number, error: unknown): boolean {
  return status === 429 || status === 503 || (error as { type?: string } | undefined)?.type === 'cluster_block_exception';
}

export class ElasticsearchSink implements PacketSink {
  readonly counts: IndexCounts = { indexed: 0, duplicates: 0, deadLettered: 0, retries: 0, unmappedFields: 0 };
  private pending: Item[] = [];
  private pendingBytes = 0;
  private readonly inflight = new Set<Promise<void>>();
  private flushTimer: NodeJS.Timeout | undefined;
  private failure: Error | undefined;
  // Layer fields in the order first seen, and how many of them each index has mapped.
  private readonly fields: { layer: string; key: string; type: string }[] = [];
  private readonly fieldNames = new Set<string>();
  private readonly mappedUpTo = new Map<string, number>();
  /** How many of `fields` this process has added to the index template. */
  private templatedUpTo = 0;
  private templateWarned = false;
  private mappingWork: Promise<void> = Promise.resolve();
  private deadLetterFd: number | undefined;
  /** Since when requests have been failing with no document accepted in between (see expired()). */
  private failingSince: number | undefined;
  /** When the cluster last accepted a document: a stall cannot have begun before. */
  private acceptedAt = 0;
  private lastFailure = '';
  /** When the last "refuses, retrying" warning was written: one a minute at most. */
  private warnedAt = 0;
  /** Indices at their field limit, said once each. */
  private readonly atFieldLimit = new Set<string>();
  private readonly tallies = new WeakMap<DocumentBuilder, CaptureTally>();
  /** Index names by UTC day: a day is named once, not for every packet. */
  private readonly indexByDay = new Map<string, string>();

  constructor(
    private readonly client: Client,
    private readonly options: BulkOptions,
  ) {}

  async write(view: BatchView, documents: DocumentBuilder): Promise<void> {
    if (this.failure) throw this.failure;
    this.noteNewFields(view.batch.newFields);
    const captureId = documents.context.id;
    if (!captureId) throw new Error('documents without a capture id cannot be indexed');
    // One buffer for the whole batch: action line + document per packet.
    const ids: string[] = [];
    const indices: string[] = [];
    const { bytes, starts } = documents.withLines(view, (i) => {
      const index = this.indexOf(view.day(i));
      const id = `${captureId}-${view.meta(i, Meta.FrameNumber)}`;
      ids.push(id);
      indices.push(index);
      return `{"create":{"_index":"${index}","_id":"${id}"}}\n`;
    });
    let capture = this.tallies.get(documents);
    if (!capture) this.tallies.set(documents, (capture = new CaptureTally()));
    capture.outstanding += view.count;
    for (let i = 0; i < view.count; i++) {
      const body = bytes.subarray(starts[i], starts[i + 1]);
      this.pending.push({ index: indices[i], id: ids[i], body, capture });
      this.pendingBytes += body.length;
      if (this.pending.length >= this.options.chunk || this.pendingBytes >= this.options.maxBytes) await this.dispatch();
    }
    this.flushSoon();
  }

  /**
   * Documents wait for a full request at most FLUSH_AFTER_MS: on a quiet live
   * link a request may never fill, and packets must still reach the cluster.
   */
  private flushSoon(): void {
    if (!this.pending.length || this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      if (this.pending.length) this.dispatch().catch((err) => (this.failure ??= err));
    }, FLUSH_AFTER_MS);
  }

  settled(documents: DocumentBuilder): Promise<FileCounts> {
    return (this.tallies.get(documents) ?? new CaptureTally()).whenSettled();
  }

  async close(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.length) await this.dispatch();
    await Promise.all(this.inflight);
    // Everything indexed is searchable when espcap is done, whatever the refresh interval.
    const indices = [...this.mappedUpTo.keys()];
    if (indices.length && !this.failure) await this.retrying(() => this.client.indices.refresh({ index: indices.join(',') })).catch(() => {});
    if (this.deadLetterFd !== undefined) fs.closeSync(this.deadLetterFd);
    this.deadLetterFd = undefined;
    if (this.failure) throw this.failure;
  }

  private indexOf(day: string): string {
    let index = this.indexByDay.get(day);
    if (index === undefined) this.indexByDay.set(day, (index = indexName(this.options.layout, day)));
    return index;
  }

  /** What the run's summary adds up over the dissecting processes. */
  report(): IndexCounts {
    return { ...this.counts };
  }

  private noteNewFields(newFields: string): void {
    if (!newFields) return;
    for (const line of newFields.split('\n')) {
      if (!line) continue;
      const [layer, key, , types] = line.split('\t');
      const name = `${layer}.${key}`;
      if (this.fieldNames.has(name)) continue;
      this.fieldNames.add(name);
      if (this.fields.length >= this.options.fieldBudget) {
        this.counts.unmappedFields++;
        continue;
      }
      this.fields.push({ layer, key, type: layerFieldType(types.split(','), this.options.unsignedLong) });
    }
  }

  /** Sends what is pending, waiting first if too many requests are in flight. */
  private async dispatch(): Promise<void> {
    const items = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    while (this.inflight.size >= this.options.inflight) await Promise.race(this.inflight);
    if (this.failure) throw this.failure;
    // Mappings first: no document is sent before its fields are mapped.
    await this.prepareIndices(new Set(items.map((it) => it.index)));
    const request = this.send(items).catch((err) => {
      this.failure ??= err;
    });
    this.inflight.add(request);
    request.finally(() => this.inflight.delete(request));
  }

  /** Runs a request, retrying it while the cluster is away, until `started` + the retry deadline (or the stall below). */
  private retrying<T>(request: () => Promise<T>, started = Date.now()): Promise<T> {
    return withRetries(request, () => this.expired(started), (err) => {
      this.counts.retries++;
      this.failing(describeError(err), started);
    });
  }

  /**
   * A request started at `started` gives up at the retry deadline; every
   * request gives up once the cluster has accepted nothing for that long
   * (stalled), whenever it started: then espcap stops rather than wait the
   * deadline again for every request still to come.
   */
  private expired(started: number): boolean {
    const now = Date.now();
    return now - started >= this.options.retryDeadlineMs || (this.failingSince !== undefined && now - this.failingSince >= this.options.retryDeadlineMs);
  }

  /**
   * A request (or an item of one) started at `started` failed for a passing
   * reason: the stall clock runs from the first such request since the last
   * success, from when it was sent (not from when its refusal came back, or
   * a request would expire before the stall it belongs to). The user is told
   * why espcap waits, when a stall begins (once a minute at most).
   */
  private failing(reason: string, started: number): void {
    if (this.failingSince === undefined && !this.options.quiet && Date.now() - this.warnedAt >= 60_000) {
      this.warnedAt = Date.now();
      warn(`warning: Elasticsearch refuses for now: ${reason}; retrying for up to ${Math.round(this.options.retryDeadlineMs / 1000)} s`);
    }
    this.failingSince ??= Math.max(started, this.acceptedAt);
    this.lastFailure = reason;
  }

  /** After a give-up: if the cluster accepted nothing for the whole deadline, the run stops. */
  private stopIfStalled(): void {
    if (this.failingSince === undefined || Date.now() - this.failingSince < this.options.retryDeadlineMs) return;
    this.failure ??= new EspcapError(
      `Elasticsearch accepted no document for ${Math.round((Date.now() - this.failingSince) / 1000)} s: ${this.lastFailure}; stopped; ` +
        `the documents it refused are in ${this.options.deadLetterPath}; run the same command again to index the rest`,
    );
  }

  /**
   * Makes the indices of a batch ready for its documents: every field seen so
   * far mapped, before a document carrying it is sent. A new index is born
   * from the index template, which holds every layer field espcap has met
   * (updated here before an index is created), so it needs no mapping
   * request of its own: its mapping is read back once, and only a field the
   * template lacks (another process updated it at the same moment) is added.
   * An index already in use gets the fields met since.
   */
  private prepareIndices(indices: Set<string>): Promise<void> {
    this.mappingWork = this.mappingWork.then(async () => {
      const unprepared = [...indices].find((index) => !this.mappedUpTo.has(index));
      if (unprepared !== undefined) await this.updateTemplate(unprepared);
      for (const index of indices) {
        const done = this.mappedUpTo.get(index);
        if (done === this.fields.length) continue;
        let fresh = this.fields.slice(done ?? 0);
        try {
          if (done === undefined) {
            await this.createIndex(index);
            const mapped = await this.mappedLayerFields(index);
            fresh = this.fields.filter((f) => !mapped.has(`${f.layer}.${f.key}`));
          }
          if (fresh.length) await this.retrying(() => this.client.indices.putMapping({ index, ...layerProperties(fresh) }));
          this.mappedUpTo.set(index, this.fields.length);
        } catch (err) {
          if (err instanceof EspcapError) throw err; // said in full already
          const limit = err instanceof errors.ResponseError ? fieldLimitIn((err.meta.body as { error?: EsError } | undefined)?.error) : undefined;
          if (limit !== undefined) {
            // Documents are still indexed whole (layers is not dynamic): the new fields stay in _source only.
            this.counts.unmappedFields += fresh.length;
            if (!this.atFieldLimit.has(index))
              warn(
                `warning: ${index} is at its limit of ${limit} fields (index.mapping.total_fields.limit): the fields it lacks are kept in _source but not searchable; ` +
                  `raise the limit for the documents to come (PUT /${index}/_settings {"index.mapping.total_fields.limit": ${FIELD_BUDGET + 500}})`,
              );
            this.atFieldLimit.add(index);
            this.mappedUpTo.set(index, this.fields.length);
          } else if (err instanceof errors.ResponseError && err.meta.statusCode === 400) {
            // The index maps some of these fields differently (another template):
            // documents it rejects go to the dead-letter file with the reason.
            warn(`warning: ${index}: mapping not updated: ${describeError(err)}`);
            this.mappedUpTo.set(index, this.fields.length);
          } else {
            throw new EspcapError(`Elasticsearch: cannot prepare index ${index}: ${describeError(err)}; run the same command again to index the rest`);
          }
        }
      }
    });
    return this.mappingWork;
  }

  /**
   * Adds the layer fields met since the last update to the index template
   * (read, merged, written: a field already there keeps its mapping). Only an
   * optimisation — every index is checked when it is made — so a refusal is
   * a warning, once. A cluster still away when the retries give up stops the
   * run here, with the same line the index it was for would give.
   */
  private async updateTemplate(forIndex: string): Promise<void> {
    if (this.templatedUpTo === this.fields.length) return;
    const name = templateName(this.options.layout);
    try {
      const found = await this.retrying(() => this.client.indices.getIndexTemplate({ name }));
      const { index_patterns, template, priority, _meta, version, composed_of } = found.index_templates[0].index_template;
      // The template espcap made: its layers object holds one object per layer.
      const layersMapping = template?.mappings?.properties?.layers as { properties?: Record<string, { properties: Record<string, EsMapping> }> };
      const layers = (layersMapping.properties ??= {});
      for (const f of this.fields.slice(this.templatedUpTo)) (layers[f.layer] ??= { properties: {} }).properties[f.key] ??= fieldMapping(f.type);
      await this.retrying(() => this.client.indices.putIndexTemplate({ name, index_patterns, template, priority, _meta, version, composed_of }));
      this.templatedUpTo = this.fields.length;
    } catch (err) {
      if (retryable(err)) throw new EspcapError(`Elasticsearch: cannot prepare index ${forIndex}: ${describeError(err)}; run the same command again to index the rest`);
      if (!this.templateWarned) warn(`warning: cannot add the new fields to the index template ${name}: ${describeError(err)}`);
      this.templateWarned = true;
      this.templatedUpTo = this.fields.length; // not again for these
    }
  }

  /** The layer fields an index maps: "layer.key". */
  private async mappedLayerFields(index: string): Promise<Set<string>> {
    const response = (await this.retrying(() =>
      this.client.indices.getMapping({ index, filter_path: '*.mappings.properties.layers.properties.*.properties.*.type' }),
    )) as Record<string, { mappings?: { properties?: { layers?: { properties?: Record<string, { properties: Record<string, unknown> }> } } } }>;
    const mapped = new Set<string>();
    const layers = response[index]?.mappings?.properties?.layers?.properties ?? {};
    for (const [layer, { properties }] of Object.entries(layers)) for (const key of Object.keys(properties ?? {})) mapped.add(`${layer}.${key}`);
    return mapped;
  }

  /**
   * Creates an index from the template (an index that exists already is
   * fine). A cluster that cannot take another index (its shard limit), or
   * whose nodes may not hold its shard (disk past the high watermark), stops
   * the run with one line saying what to do; the captures not finished are
   * read again by the next run.
   */
  private async createIndex(index: string): Promise<void> {
    try {
      // Waits for the primary shard, at most 30 s or the retry deadline.
      const timeout = `${Math.max(1, Math.min(30, Math.round(this.options.retryDeadlineMs / 1000)))}s`;
      const created = await this.retrying(() => this.client.indices.create({ index, timeout, settings: { 'index.refresh_interval': this.options.refreshInterval } }));
      if (!created.shards_acknowledged) await this.whyNoShard(index);
    } catch (err) {
      if (err instanceof EspcapError) throw err;
      const body = err instanceof errors.ResponseError ? (err.meta.body as { error?: { type?: string; reason?: string } }) : undefined;
      if (body?.error?.type === 'resource_already_exists_exception') return;
      const limit = /this action would add \[(\d+)\] shards?, but this cluster currently has \[(\d+)\]\/\[(\d+)\] maximum (normal )?shards open/.exec(body?.error?.reason ?? '');
      if (limit)
        throw new EspcapError(
          `Elasticsearch refuses to create index ${index}: its ${limit[1]} shard${limit[1] === '1' ? '' : 's'} and the ${limit[2]} the cluster holds would pass its limit of ${limit[3]} ` +
            `(cluster.max_shards_per_node times its data nodes); index by a longer period (--index-period week, month or year), delete old indices, ` +
            `or raise cluster.max_shards_per_node; run the same command again to index the rest`,
        );
      throw new EspcapError(`Elasticsearch: cannot create index ${index}: ${describeError(err)}`);
    }
  }

  /**
   * A new index whose primary shard did not start: if no node may hold it
   * (Elasticsearch's allocation explanation says why, often the disk), the
   * run stops with that reason rather than wait a minute per request.
   */
  private async whyNoShard(index: string): Promise<void> {
    type Decision = { decider: string; decision: string; explanation: string };
    const explained = (await this.retrying(() =>
      this.client.cluster.allocationExplain({ index, shard: 0, primary: true }),
    )) as unknown as { current_state?: string; can_allocate?: string; node_allocation_decisions?: { deciders?: Decision[] }[] };
    if (explained.current_state !== 'unassigned' || explained.can_allocate === 'yes' || explained.can_allocate === 'throttled') return;
    const no = explained.node_allocation_decisions?.flatMap((n) => n.deciders ?? []).find((d) => d.decision === 'NO');
    const wayOut = no?.decider === 'disk_threshold' ? 'free disk space on the nodes or delete old indices' : 'GET /_cluster/allocation/explain says more';
    throw new EspcapError(
      `Elasticsearch created index ${index}, but no node may hold its shard: ${no ? no.explanation : 'no node can take it'}; ${wayOut}; run the same command again to index the rest`,
    );
  }

  private async send(items: Item[]): Promise<void> {
    const started = Date.now();
    for (let attempt = 0; items.length; attempt++) {
      let response: { errors: boolean; items: Record<string, { status: number; error?: unknown }>[] };
      try {
        const body = Buffer.concat(items.map((it) => it.body));
        response = (await this.retrying(async () => {
          try {
            return await this.client.transport.request({ method: 'POST', path: '/_bulk', bulkBody: body });
          } catch (err) {
            if (!(err instanceof errors.ResponseError)) for (const item of items) item.maybeIndexed = true;
            throw err;
          }
        }, started)) as typeof response;
      } catch (err) {
        const status = err instanceof errors.ResponseError ? (err.meta.statusCode ?? 0) : 0;
        this.deadLetter(items, status, { type: 'request_failed', reason: describeError(err) });
        this.stopIfStalled();
        return;
      }
      const again: Item[] = [];
      const expired = this.expired(started);
      response.items.forEach((entry, i) => {
        const result = entry.create;
        if (result.status === 201 || result.status === 200 || result.status === 409) {
          this.failingSince = undefined;
          this.acceptedAt = Date.now();
          const kind = result.status === 409 && !items[i].maybeIndexed ? 'duplicates' : 'indexed';
          this.counts[kind]++;
          items[i].capture.settle(kind);
        } else if (transientItemError(result.status, result.error) && !expired) {
          this.failing(describeRefusal(result.status, result.error as EsError | undefined), started);
          again.push(items[i]);
        } else this.deadLetter([items[i]], result.status, result.error);
      });
      if (expired) this.stopIfStalled();
      items = again;
      if (items.length) {
        this.counts.retries++;
        await sleep(backoff(attempt));
      }
    }
  }

  /**
   * Records items that could not be indexed, with why, as NDJSON lines. Each
   * line is written whole or not at all: on a full disk the file is cut back
   * to its last whole line, so what it holds stays readable.
   */
  private deadLetter(items: Item[], status: number, error: unknown): void {
    try {
      this.deadLetterFd ??= fs.openSync(this.options.deadLetterPath, 'a');
      for (const item of items) {
        const document = item.body.subarray(item.body.indexOf(0x0a) + 1, item.body.length - 1);
        const head = JSON.stringify({ index: item.index, id: item.id, status, error }).slice(0, -1);
        writeWhole(this.deadLetterFd, Buffer.concat([Buffer.from(`${head},"document":`), document, Buffer.from('}\n')]));
        this.counts.deadLettered++;
        item.capture.settle('deadLettered');
      }
    } catch (err) {
      throw new EspcapError(`cannot write the dead-letter file ${this.options.deadLetterPath}: ${writeFailure(err)}`);
    }
  }
}

/** Writes all of `bytes` at the end of the file, or nothing: a short write is undone before the error is thrown. */
function writeWhole(fd: number, bytes: Buffer): void {
  const start = fs.fstatSync(fd).size;
  try {
    for (let done = 0; done < bytes.length; ) done += fs.writeSync(fd, bytes, done);
  } catch (err) {
    fs.ftruncateSync(fd, start);
    throw err;
  }
}
