// Where documents go: the contract every output keeps (text files, NDJSON,
// Elasticsearch) and the counts they report. Every sink takes whole batches.
import { BatchView, DocumentBuilder } from './document';

/** What became of the documents of one capture (Elasticsearch); zeros for text output. */
export interface FileCounts {
  indexed: number;
  duplicates: number;
  deadLettered: number;
}

export interface PacketSink {
  write(view: BatchView, documents: DocumentBuilder): Promise<void>;
  /** Resolves once every document written so far for `documents`' capture is settled (stored, or dead-lettered). */
  settled(documents: DocumentBuilder): Promise<FileCounts>;
  /** Flushes everything written; after it resolves, nothing is pending. */
  close(): Promise<void>;
  /** After close(): what the process reports of its writing, for the output's report (plain data). */
  report?(): unknown;
}

/** The reader of our output went away (e.g. `espcap ... | head`). */
export class OutputClosedError extends Error {}

export function noFileCounts(): FileCounts {
  return { indexed: 0, duplicates: 0, deadLettered: 0 };
}

export function addFileCounts(total: FileCounts, add: FileCounts): void {
  total.indexed += add.indexed;
  total.duplicates += add.duplicates;
  total.deadLettered += add.deadLettered;
}

/** For sinks whose writes are done when write() resolves. */
export const NOTHING_PENDING: Promise<FileCounts> = Promise.resolve(noFileCounts());
