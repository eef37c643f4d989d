// Documents as NDJSON, one per line, exactly as they would be indexed.
import { BatchView, DocumentBuilder } from '../document';
import { PacketSink } from './sink';
import { TextOutput } from './text-output';

export class NdjsonSink implements PacketSink {
  constructor(private readonly out: TextOutput) {}

  async write(view: BatchView, documents: DocumentBuilder): Promise<void> {
    let text = '';
    for (let i = 0; i < view.count; i++) text += documents.document(view, i) + '\n';
    await this.out.write(text);
  }

  close(): Promise<void> {
    return this.out.close();
  }
}
