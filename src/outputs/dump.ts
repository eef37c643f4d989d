// The default output, the original espcap's dump mode: packets printed for a
// person to read.
//
//   packet 3  2015-07-30T05:22:10.483133000Z  tcp  66 bytes  test_http.pcap
//     eth
//       dst: 58:23:8c:b4:42:56
//       ...
import * as path from 'node:path';
import { Meta } from '../engine/engine';
import { BatchView, DocumentBuilder } from '../document';
import { TextSink, textOutput } from './text-output';

export type Value = string | number | boolean | null | Value[] | { [key: string]: Value };

function formatValue(value: Value): string {
  if (Array.isArray(value)) return value.map(formatValue).join(', ');
  return String(value);
}

/** One packet as a person reads it: a heading line, then each layer's fields, then a blank line. */
export function dumpPacket(head: { frame: number; timestamp: string; protocol: string; length: number; source: string }, layers: Record<string, Value>): string {
  let text = `packet ${head.frame}  ${head.timestamp}  ${head.protocol}  ${head.length} bytes  ${head.source}\n`;
  for (const [name, layer] of Object.entries(layers)) {
    for (const occurrence of Array.isArray(layer) ? layer : [layer]) {
      text += `  ${name}\n`;
      for (const [key, value] of Object.entries(occurrence as Record<string, Value>)) text += `    ${key}: ${formatValue(value)}\n`;
    }
  }
  return `${text}\n`;
}

export class DumpSink extends TextSink {
  async write(view: BatchView, documents: DocumentBuilder): Promise<void> {
    const { fileName, capture } = documents.context;
    const source = fileName ? path.basename(fileName) : capture;
    let text = '';
    for (let i = 0; i < view.count; i++) {
      const head = { frame: view.meta(i, Meta.FrameNumber), timestamp: view.timestamp(i), protocol: view.protocol(i), length: view.meta(i, Meta.OriginalLength), source };
      text += dumpPacket(head, JSON.parse(view.layersJson(i)) as Record<string, Value>);
    }
    await this.out.write(text);
  }
}

export const dumpOutput = textOutput((out) => new DumpSink(out));
