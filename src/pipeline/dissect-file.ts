// The work of one dissecting process: read capture files in order, dissect
// them, and hand every batch to the sink. It stops early when the process has
// grown past its memory limit, saying where to resume (see supervisor.ts).
import * as fs from 'node:fs';
import { CaptureError, Meta, nextBatch, openCapture } from '../engine/engine';
import { BatchView, DocumentBuilder } from '../document';
import { PacketSink } from '../sinks/sink';
import { captureId } from '../capture-id';

/** Share of the memory limit at which the supervisor is told to get a successor ready. */
const NEAR_LIMIT = 0.8;

export interface FileJob {
  path: string;
  /** Records already done by an earlier process. */
  skipRecords: number;
}

export interface DissectOptions {
  filter?: string;
  maxBytes: number;
  sessionPackets: number;
  /** Packets still wanted in total; 0 for no limit. */
  maxPackets: number;
  /** Stop and ask for a fresh process past this RSS; 0 never. */
  maxRssBytes: number;
  dissectOnly: boolean;
  /** Documents need ids (indexing): compute each capture's identity. */
  needsCaptureId: boolean;
}

export interface FileResult {
  path: string;
  /** Packets written by this process. */
  packets: number;
  /** The last record (frame number) this process finished. */
  records: number;
  /** Not a capture file at all (unknown format). */
  notCapture?: boolean;
  error?: { code: string; message: string };
}

export interface DissectOutcome {
  /** Set when this process stopped for a fresh one: resume this file after `records`. */
  recycleAt?: { path: string; records: number };
  limitReached: boolean;
  interrupted: boolean;
}

export async function dissectFiles(
  jobs: FileJob[],
  options: DissectOptions,
  sink: PacketSink,
  shouldStop: () => boolean,
  onFileDone: (result: FileResult) => void,
  onNearLimit: () => void,
): Promise<DissectOutcome> {
  const outcome: DissectOutcome = { limitReached: false, interrupted: false };
  let warned = false;
  let written = 0;
  for (const job of jobs) {
    const result: FileResult = { path: job.path, packets: 0, records: job.skipRecords };
    let reader;
    try {
      reader = await openCapture({
        path: job.path,
        filter: options.filter,
        maxBytes: options.maxBytes,
        resetEvery: options.sessionPackets,
        skipRecords: job.skipRecords,
        maxPackets: options.maxPackets ? options.maxPackets - written : 0,
        walk: !options.dissectOnly,
      });
    } catch (err) {
      const e = err as CaptureError;
      if (e.code === 'BAD_FILTER') throw e;
      result.notCapture = e.code === 'UNKNOWN_FORMAT';
      result.error = { code: e.code, message: e.message };
      onFileDone(result);
      continue;
    }
    const documents = new DocumentBuilder({
      capture: 'file',
      fileName: job.path,
      fileDate: fileDate(job.path),
      id: options.needsCaptureId ? captureId(job.path) : undefined,
    });
    try {
      for (let batch = await nextBatch(reader); batch; batch = await nextBatch(reader)) {
        const view = new BatchView(batch);
        if (!options.dissectOnly) await sink.write(view, documents);
        result.packets += view.count;
        result.records = view.meta(view.count - 1, Meta.FrameNumber);
        written += view.count;
        if (options.maxPackets && written >= options.maxPackets) break;
        if (shouldStop()) {
          outcome.interrupted = true;
          break;
        }
        if (options.maxRssBytes) {
          const rss = process.memoryUsage.rss();
          if (rss > options.maxRssBytes) {
            outcome.recycleAt = { path: job.path, records: result.records };
            break;
          }
          if (!warned && rss > NEAR_LIMIT * options.maxRssBytes) {
            warned = true;
            onNearLimit();
          }
        }
      }
      // Everything read was written: the file is finished up to its last record.
      if (!outcome.recycleAt && !outcome.interrupted) result.records = reader.stats().records;
    } catch (err) {
      // A read error ends this file only; a failing sink (output gone, cluster
      // refusing) ends the run.
      if (!(err instanceof CaptureError)) throw err;
      result.error = { code: err.code, message: err.message };
    } finally {
      reader.close();
    }
    onFileDone(result);
    if (options.maxPackets && written >= options.maxPackets) {
      outcome.limitReached = true;
      break;
    }
    if (outcome.recycleAt || outcome.interrupted) break;
  }
  return outcome;
}

function fileDate(path: string): Date | undefined {
  try {
    return fs.statSync(path).mtime;
  } catch {
    return undefined;
  }
}
