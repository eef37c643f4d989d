// Dissects one capture file (or the rest of it, after a record) and hands
// every batch to the sink. It stops early when the process has grown past its
// memory limit, saying where to resume (see worker-pool.ts).
//
// It stops at a session reset (a multiple of --session-packets): the fresh
// process resuming there starts a fresh epan session, exactly as the reset
// would have, so the documents are the same as if no process had been
// replaced. Only past HARD_LIMIT times the limit, before such a point comes,
// does it stop at once (cross-packet state such as tcp.stream then restarts
// there, as after a tshark -M reset).
import * as fs from 'node:fs';
import { CaptureError, CapturePart, Meta, nextBatch, openCapture } from '../engine/engine';
import { BatchView, captureFields, DocumentBuilder } from '../document';
import { FileCounts, NOTHING_PENDING, PacketSink } from '../sink';

/** Share of the memory limit at which the pool is told to get a successor ready. */
const NEAR_LIMIT = 0.8;
/** Past this many times the limit, stop at once rather than at the next session reset. */
export const HARD_LIMIT = 2;
/** A live process dissects at least this many packets before it asks to be replaced. */
const LIVE_MIN_PACKETS = 10000;
/** Records the engine may move on between reading its position and being told where to stop (it reads about 50 per millisecond). */
const STOP_MARGIN = 64;

export interface FileJob {
  path: string;
  /** Identity of the capture for document ids (see capture-id.ts); absent if the file could not be read. */
  captureId?: string;
  /** Records already done by an earlier process (counted from the file's start): this part starts after them. */
  skipRecords: number;
  /** Only this part of the file (worker-pool.ts cuts a large file for several processes); it ends where the next part starts. */
  part?: CapturePart;
  /** Packets still wanted (--count); 0 for no limit. */
  maxPackets: number;
  /**
   * A live stream on standard input instead of a file (path "-"), see
   * pipeline/live.ts, with its records' frame notes (capture-wide numbers
   * and times, native/frame_note.h) on descriptor `frameNotesFd`; `afterPredecessor`: write nothing before the
   * process this one succeeds has written all it had ('go'), so a worker's
   * documents stay in capture order.
   */
  live?: { interfaceName: string; frameNotesFd: number; afterPredecessor?: boolean };
}

export interface DissectOptions {
  filter?: string;
  maxBytes: number;
  sessionPackets: number;
  /** Stop and ask for a fresh process past this RSS; 0 never. */
  maxRssBytes: number;
  dissectOnly: boolean;
}

/** What reading one part of a file (from job.skipRecords on) gave. */
export interface PartResult {
  path: string;
  skipRecords: number;
  /** Packets written in this part. */
  packets: number;
  /** The last record (frame number) finished. */
  records: number;
  /** Read to its end without error: every packet of the file (or of the part) is written. */
  complete: boolean;
  /** Not a capture file at all (unknown format). */
  notCapture?: boolean;
  error?: { code: string; message: string };
  /** The process grew past its limit: a fresh one resumes after `records`. */
  recycle?: boolean;
  interrupted?: boolean;
  /** --count was reached. */
  limitReached?: boolean;
}

export interface DissectHooks {
  /** Resolves when the first batch may be written (live: after the predecessor). */
  beforeFirstWrite?: Promise<void>;
  shouldStop(): boolean;
  /** After each batch: packets and file bytes read so far in this part. */
  onBatch(packets: number, bytes: number): void;
  onNearLimit(): void;
  /** Live only: past the limit; the capture side replaces this process. */
  onOverLimit?(): void;
}

/**
 * Reads one part of a capture into the sink. Returns what was read, and a
 * promise of the part's counts once the sink has settled all its documents.
 */
export async function dissectFile(
  job: FileJob,
  options: DissectOptions,
  sink: PacketSink,
  hooks: DissectHooks,
): Promise<{ result: PartResult; settled: Promise<FileCounts> }> {
  const result: PartResult = { path: job.path, skipRecords: job.skipRecords, packets: 0, records: job.skipRecords, complete: false };
  const documents = new DocumentBuilder(
    job.live
      ? { capture: 'live', id: job.captureId, interfaceName: job.live.interfaceName }
      : { capture: 'file', fileName: job.path, fileDate: fileDate(job.path), id: job.captureId },
  );
  let reader;
  try {
    reader = await openCapture({
      documentFields: captureFields(documents.context),
      path: job.path,
      filter: options.filter,
      maxBytes: options.maxBytes,
      sessionPackets: options.sessionPackets,
      skipRecords: job.skipRecords,
      maxPackets: job.maxPackets,
      dissectOnly: options.dissectOnly,
      ...(job.live ? { frameNotesFd: job.live.frameNotesFd } : {}),
      ...(job.part ? { part: job.part } : {}),
    });
  } catch (err) {
    const e = err as CaptureError;
    if (e.code === 'BAD_FILTER') throw e;
    result.notCapture = e.code === 'UNKNOWN_FORMAT';
    result.error = { code: e.code, message: e.message };
    return { result, settled: NOTHING_PENDING };
  }
  try {
    let ended = true;
    let stopAt = 0; // the session reset this part ends at, for a fresh process to take over
    for (let batch = await nextBatch(reader); batch; batch = await nextBatch(reader)) {
      const view = new BatchView(batch);
      if (hooks.beforeFirstWrite && result.packets === 0) await hooks.beforeFirstWrite;
      if (!options.dissectOnly) await sink.write(view, documents);
      result.packets += view.count;
      result.records = view.meta(view.count - 1, Meta.FrameNumber);
      hooks.onBatch(result.packets, reader.stats().bytes);
      if (job.maxPackets && result.packets >= job.maxPackets) {
        result.limitReached = true;
        ended = false;
        break;
      }
      // A live stream is read to its end: the capture side stops it.
      if (!job.live && hooks.shouldStop()) {
        result.interrupted = true;
        ended = false;
        break;
      }
      if (options.maxRssBytes) {
        const rss = process.memoryUsage.rss();
        if (rss > NEAR_LIMIT * options.maxRssBytes) hooks.onNearLimit();
        if (job.live) {
          // Not before some work is done: a limit below a fresh process's size would replace it over and over.
          if (rss > options.maxRssBytes && result.packets >= LIVE_MIN_PACKETS) hooks.onOverLimit?.();
          continue;
        }
        if (rss > HARD_LIMIT * options.maxRssBytes || (rss > options.maxRssBytes && !options.sessionPackets)) {
          result.recycle = true;
          ended = false;
          break;
        }
        if (rss > options.maxRssBytes && !stopAt) {
          const every = options.sessionPackets;
          stopAt = Math.ceil((reader.stats().records + STOP_MARGIN) / every) * every;
          reader.stopAfter(stopAt);
        }
      }
    }
    if (ended) {
      // Everything read was written: the file (or the part) is finished up to
      // its last record, or up to the session reset where a fresh process takes
      // over. A part ends at a session reset: finished, and the process may go.
      result.records = reader.stats().records;
      const atReset = stopAt > 0 && result.records >= stopAt;
      result.complete = job.part !== undefined || !atReset;
      result.recycle = atReset;
    }
  } catch (err) {
    // A read error ends this file only; a failing sink (output gone, cluster
    // refusing) ends the run.
    if (!(err instanceof CaptureError)) throw err;
    result.error = { code: err.code, message: err.message };
  } finally {
    reader.close();
  }
  return { result, settled: sink.settled(documents) };
}

function fileDate(path: string): Date | undefined {
  try {
    return fs.statSync(path).mtime;
  } catch {
    return undefined;
  }
}
