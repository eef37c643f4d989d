// --node: one document per packet bulk-indexed into Elasticsearch. The parts
// live in ../elasticsearch/ (connecting, the mapping, the bulk sink, the
// resume state); this module puts them together as an output. outputs/index.ts
// loads it only for --node: printing or writing NDJSON loads no Elasticsearch
// client.
import * as path from 'node:path';
import type { Client } from '@elastic/elasticsearch';
import { EspcapError, warn } from '../errors';
import { BulkOptions, ElasticsearchSink, IndexCounts } from '../elasticsearch/bulk-sink';
import { CaptureClaims } from '../elasticsearch/claims';
import { checkCluster, ClusterOptions, clusterOptions, ConnectionFlags, createClient, describeError } from '../elasticsearch/cluster';
import { IngestState, STATE_INDEX } from '../elasticsearch/ingest-state';
import { FIELD_BUDGET, IndexPeriod, indexPattern, indexTemplate, templateName } from '../elasticsearch/mapping';
import type { OutputModule, PreparedOutput, RunOutcome, RunShape, SettledCapture } from './output';

/** The Elasticsearch flags, as the command line gives them: how to connect, and how to index. */
export interface ElasticsearchChoice extends ConnectionFlags {
  format: 'elasticsearch';
  chunk: number;
  bulkMb: number;
  bulkInflight: number;
  retryDeadlineSeconds: number;
  refreshInterval: string;
  deadLetter: string;
  /** Skip the captures an earlier run recorded as fully indexed. */
  resume: boolean;
  /** Share the captures with other espcap processes indexing the same ones into this cluster (claims.ts). */
  share: boolean;
  /** Who this process is in the shared state (--host-id). */
  hostId: string;
  /** A claim not renewed for this long is taken over (--lease). */
  leaseSeconds: number;
  /** Where packets go: `<indexPrefix>-<period>` (--index-prefix, --index-period), with --shards primary shards each. */
  indexPrefix: string;
  indexPeriod: IndexPeriod;
  shards: number;
  /** Tests only: this process's wall clock is this far off (the times written in claims). */
  clockOffsetMs: number;
  /** Tests only: layer fields mapped per index at most, instead of FIELD_BUDGET. */
  fieldBudget?: number;
}

/** What a dissecting process is told: how to reach the cluster (credentials cross IPC, never arguments) and how to send. */
export interface ElasticsearchSpec {
  format: 'elasticsearch';
  cluster: ClusterOptions;
  bulk: BulkOptions;
}

/**
 * Connects once, fails fast if it cannot (before any packet is read), and
 * installs the index template; the dissecting processes then index with the
 * same settings.
 */
async function prepare(choice: ElasticsearchChoice, run: RunShape): Promise<PreparedOutput<ElasticsearchSpec>> {
  const layout = { prefix: choice.indexPrefix, period: choice.indexPeriod };
  const template = templateName(layout);
  const cluster: ClusterOptions = clusterOptions(choice);
  const client = createClient(cluster);
  let info;
  try {
    info = await checkCluster(client, cluster.nodes);
    try {
      // The layer fields an earlier run (or another host) added stay: new indices are born with them.
      const known = await client.indices.getIndexTemplate({ name: template }, { ignore: [404] }).catch(() => undefined);
      const layers = (known?.index_templates?.[0]?.index_template as { template?: { mappings?: { properties?: { layers?: { properties?: Record<string, unknown> } } } } } | undefined)
        ?.template?.mappings?.properties?.layers;
      await client.indices.putIndexTemplate({ name: template, ...indexTemplate({ prefix: choice.indexPrefix, shards: choice.shards }, layers) });
    } catch (err) {
      throw new EspcapError(`Elasticsearch: cannot install the index template ${template}: ${describeError(err)}`);
    }
    if (!run.quiet) warn(`indexing into Elasticsearch ${info.version} at ${cluster.nodes.join(',')}`);
  } finally {
    await client.close();
  }
  const spec: ElasticsearchSpec = {
    format: 'elasticsearch',
    cluster,
    bulk: {
      chunk: choice.chunk,
      maxBytes: choice.bulkMb * 1024 * 1024,
      inflight: choice.bulkInflight,
      retryDeadlineMs: choice.retryDeadlineSeconds * 1000,
      deadLetterPath: path.resolve(choice.deadLetter),
      unsignedLong: info.unsignedLong,
      refreshInterval: choice.refreshInterval,
      layout,
      quiet: run.quiet,
      fieldBudget: choice.fieldBudget ?? FIELD_BUDGET,
    },
  };

  // The resume state and the claims, read and written by espcap's own process through a client of its own.
  const stateClient = createClient(cluster);
  const state = new IngestState(stateClient, run.filter, choice.retryDeadlineSeconds * 1000, indexPattern(layout), choice.share ? choice.hostId : undefined);
  let claims: CaptureClaims | undefined;
  if (choice.share) {
    const leaseMs = choice.leaseSeconds * 1000;
    claims = new CaptureClaims(stateClient, state, { hostId: choice.hostId, leaseMs, retryDeadlineMs: choice.retryDeadlineSeconds * 1000, clock: () => Date.now() + choice.clockOffsetMs });
  }
  const recording: Promise<void>[] = [];
  let recordWarned = false;

  return {
    spec,
    toStdout: false,

    async skipFinished(files) {
      try {
        await state.ensureIndex();
      } catch (err) {
        throw new EspcapError(`Elasticsearch: cannot create the index ${STATE_INDEX}: ${describeError(err)}`);
      }
      if (!choice.resume) return files;
      const ids = files.flatMap((f) => (f.captureId ? [f.captureId] : []));
      let finished: Set<string>;
      try {
        finished = await state.finished(ids);
      } catch (err) {
        throw new EspcapError(`Elasticsearch: cannot read which files are already indexed: ${describeError(err)}`);
      }
      const todo = files.filter((f) => !(f.captureId && finished.has(f.captureId)));
      const skipped = files.length - todo.length;
      if (skipped && !run.quiet) warn(`${skipped} of ${files.length} files already fully indexed by an earlier run: skipped (--no-resume indexes them again)`);
      return todo;
    },

    claims,

    captureSettled(capture: SettledCapture) {
      // A capture with dead letters is not finished: a rerun reads it again.
      if (capture.counts.deadLettered) {
        void claims?.release(capture.captureId);
        return;
      }
      claims?.settled(capture.captureId);
      const { indexed, duplicates } = capture.counts;
      const recorded = state.record({ captureId: capture.captureId, path: capture.path, size: capture.size, packets: capture.packets, indexed, duplicates });
      recording.push(
        recorded.catch((err) => {
          if (!recordWarned) warn(`warning: cannot record ${capture.path} as indexed (a rerun will index it again): ${describeError(err)}`);
          recordWarned = true;
        }),
      );
    },

    handDown: (open) => ({ ...spec, bulk: { ...spec.bulk, deadLetterPath: open(spec.bulk.deadLetterPath, 'a') } }),

    report(outcome: RunOutcome, quiet: boolean): boolean {
      const { packets, counts } = outcome;
      const notIndexed = packets - counts.indexed - counts.duplicates - counts.deadLettered;
      let retries = 0;
      let unmappedFields = 0;
      for (const r of outcome.sinkReports as (IndexCounts | undefined)[]) {
        retries += r?.retries ?? 0;
        // Each process counts the fields past the budget it met; they are mostly the same fields.
        unmappedFields = Math.max(unmappedFields, r?.unmappedFields ?? 0);
      }
      if (counts.deadLettered) warn(`${counts.deadLettered} documents refused by Elasticsearch are in ${spec.bulk.deadLetterPath}, with the reasons`);
      if (unmappedFields) warn(`${unmappedFields} fields beyond the per-index budget or an index's field limit are kept in _source but not searchable`);
      if (claims) {
        for (const { path: file, from } of claims.stats.takenOver) warn(`took over ${file}: the claim of ${from} was not renewed for --lease ${choice.leaseSeconds} s`);
        const { claimed, doneElsewhere, takenOver } = claims.stats;
        if (!quiet || takenOver.length)
          warn(`shared as ${choice.hostId}: ${claimed} files claimed here (${takenOver.length} taken over), ${doneElsewhere} done by other processes`);
      }
      if (!quiet || counts.deadLettered || notIndexed)
        warn(`Elasticsearch: ${packets} packets read, ${counts.indexed} indexed, ${counts.duplicates} duplicates (already indexed), ${counts.deadLettered} dead-lettered, ${notIndexed} not sent; ${retries} retries`);
      return packets !== counts.indexed + counts.duplicates;
    },

    async close() {
      await Promise.all(recording);
      // Searchable at exit, always: each dissecting process refreshes the
      // indices it wrote when it ends, but one replaced or killed mid-run
      // does not, and its documents would wait for the refresh interval.
      // One attempt: a cluster that is away has been reported already.
      await state.makeSearchable({ retry: false }).catch(() => {});
      await claims?.close(); // what this process did not finish, another may take at once
      await stateClient.close();
    },
  };
}

export const elasticsearchOutput: OutputModule<ElasticsearchChoice, ElasticsearchSpec> = {
  prepare,
  async openSink(spec) {
    return new ElasticsearchSink(createClient(spec.cluster), spec.bulk);
  },
};
