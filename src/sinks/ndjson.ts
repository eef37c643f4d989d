// Documents as NDJSON, one per line, exactly as they would be indexed.
import { BatchView, DocumentBuilder } from '../document';
import { FileCounts, NOTHING_PENDING, PacketSink } from './sink';
import { TextOutput } from './text-output';

export class NdjsonSink implements PacketSink {
  constructor(private readonly out: TextOutput) {}

  async write(view: BatchView, documents: DocumentBuilder): Promise<void> {
    await this.out.write(documents.ndjson(view));
  }

  settled(): Promise<FileCounts> {
    return NOTHING_PENDING;
  }

  close(): Promise<void> {
    return this.out.close();
  }
}
