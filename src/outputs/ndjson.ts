// --output FILE|-: documents as NDJSON, one per line, exactly as they would be
// indexed.
import { BatchView, DocumentBuilder } from '../document';
import { TextSink, textOutput } from './text-output';

export class NdjsonSink extends TextSink {
  async write(view: BatchView, documents: DocumentBuilder): Promise<void> {
    await this.out.write(documents.ndjson(view));
  }
}

export const ndjsonOutput = textOutput((out) => new NdjsonSink(out));
