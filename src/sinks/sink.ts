// Where documents go. Every sink takes whole batches.
import { BatchView, DocumentBuilder } from '../document';

export interface PacketSink {
  write(view: BatchView, documents: DocumentBuilder): Promise<void>;
  /** Flushes everything written; after it resolves, nothing is pending. */
  close(): Promise<void>;
}

/** The reader of our output went away (e.g. `espcap ... | head`). */
export class OutputClosedError extends Error {}
