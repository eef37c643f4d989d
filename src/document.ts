// The one place that decides what a packet document looks like.
//
//   {"@timestamp":"2015-07-30T05:22:10.468623000Z", "sniff_timestamp":1438233730468.623,
//    "sniff_date_utc":"2015-07-30T05:22:10", "capture":"file",
//    "capture_id":"9f86d081884c7d659a2f", "file_name":"/data/x.pcap",
//    "file_date_utc":"2024-01-02T03:04:05", "frame_number":1, "session_start_frame":1,
//    "captured_length":78, "length":78, "interface_id":0 (pcapng only),
//    "layers":{...}, "protocol":"http", "protocols":["eth","ip","tcp","http"],
//    "source":{"ip":"10.0.0.4","port":59803,"mac":"60-F8-1D-CB-43-84"}, "destination":{...},
//    "network":{"transport":"tcp","type":"ipv4","protocol":"http"}}
//
// The engine writes each document whole, on its own thread: the per-packet
// fields, the layers, and the ECS fields source/destination/network that
// Kibana users expect, from the packet's outermost addresses and transport
// (native/document_contract.h lists them: the engine's half of the contract).
// What is fixed for a whole capture (CAPTURE_FIELDS below) is decided here and
// handed to the engine as text: this half. JavaScript only copies document
// bytes: no per-document JSON.parse or JSON.stringify.
// test/native-contract.test.ts holds both halves against the mapping
// (elasticsearch/mapping.ts) and against real documents.
import { Meta, META_FIELDS, PacketBatch, Span, SPANS } from './engine/engine';

/** The top-level fields this side adds to every document of a capture (captureFields() writes them), and how. */
export const CAPTURE_FIELDS: readonly { name: string; json: 'string' | 'iso-seconds'; capture: 'file' | 'live' | 'both' }[] = [
  { name: 'capture', json: 'string', capture: 'both' },
  { name: 'capture_id', json: 'string', capture: 'both' },
  { name: 'interface_name', json: 'string', capture: 'live' },
  { name: 'file_name', json: 'string', capture: 'file' },
  { name: 'file_date_utc', json: 'iso-seconds', capture: 'file' },
];

/** Where packets come from, fixed for a whole capture. */
export interface CaptureContext {
  capture: 'file' | 'live';
  /** Path of the capture file (file captures only). */
  fileName?: string;
  /** Modification time of the capture file (file captures only). */
  fileDate?: Date;
  /** Identity of the capture, for document ids (see capture-id.ts; a live capture's run id). */
  id?: string;
  /** The interface of a live capture. */
  interfaceName?: string;
}

/** Read access to the packets of one batch. */
export class BatchView {
  private decoded: string | undefined;

  constructor(readonly batch: PacketBatch) {}

  get count(): number {
    return this.batch.count;
  }
  /** The whole batch text; the engine writes pure ASCII, so latin1 is exact and byte offsets are string offsets. */
  private get text(): string {
    return (this.decoded ??= this.batch.text.toString('latin1'));
  }
  private at(i: number, k: Span): number {
    return this.batch.offsets[SPANS * i + k];
  }
  /** A quoted value's text, from where it starts to the closing quote. */
  private quoted(i: number, k: Span): string {
    const start = this.at(i, k);
    return this.batch.text.latin1Slice(start, this.batch.text.indexOf(0x22, start));
  }
  timestamp(i: number): string {
    return this.quoted(i, Span.Timestamp);
  }
  protocol(i: number): string {
    return this.quoted(i, Span.Protocol);
  }
  layersJson(i: number): string {
    return this.text.slice(this.at(i, Span.Layers), this.at(i, Span.Tail));
  }
  /** Where packet i's document line starts and ends (after its newline). */
  lineStart(i: number): number {
    return this.at(i, Span.Head);
  }
  lineEnd(i: number): number {
    return i + 1 < this.count ? this.at(i + 1, Span.Head) : this.batch.offsets[SPANS * this.count];
  }
  meta(i: number, field: Meta): number {
    return this.batch.meta[META_FIELDS * i + field];
  }
  /** The packet's UTC day, YYYY-MM-DD. */
  day(i: number): string {
    const start = this.at(i, Span.Timestamp);
    return this.batch.text.latin1Slice(start, start + 10);
  }
}

// Buffer's latin1 accessors exist at run time but are not in Node's typings.
declare module 'node:buffer' {
  interface Buffer {
    latin1Slice(start: number, end: number): string;
    latin1Write(text: string, offset: number): number;
  }
}

function isoSeconds(date: Date): string {
  return date.toISOString().slice(0, 19);
}

/** A JSON string in pure ASCII: JSON.stringify leaves non-ASCII as is. */
function asciiJson(text: string): string {
  return JSON.stringify(text).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/** The fields every document of a capture shares, each preceded by a comma, as pure ASCII JSON. */
export function captureFields(context: CaptureContext): string {
  let fields = `,"capture":"${context.capture}"`;
  if (context.id) fields += `,"capture_id":"${context.id}"`;
  if (context.interfaceName !== undefined) fields += `,"interface_name":${asciiJson(context.interfaceName)}`;
  if (context.capture === 'file') {
    fields += `,"file_name":${asciiJson(context.fileName ?? '')}`;
    if (context.fileDate) fields += `,"file_date_utc":"${isoSeconds(context.fileDate)}"`;
  }
  return fields;
}

/** The documents of a capture, as the engine wrote them (opened with `captureFields(context)`). */
export class DocumentBuilder {
  constructor(readonly context: CaptureContext) {}

  /** The documents of a whole batch as NDJSON bytes, as the engine wrote them. */
  ndjson(view: BatchView): Buffer {
    return view.batch.text;
  }

  /**
   * The documents of a whole batch, each preceded by the ASCII line
   * `lineBefore(i)` gives (an action line): the bytes, sized from what they
   * hold, and where each packet's pair starts (`starts[count]` is the end).
   */
  withLines(view: BatchView, lineBefore: (i: number) => string): { bytes: Buffer; starts: number[] } {
    const { text, count } = view.batch;
    const lines: string[] = new Array(count);
    let size = text.length;
    for (let i = 0; i < count; i++) size += (lines[i] = lineBefore(i)).length;
    const bytes = Buffer.allocUnsafe(size);
    const starts: number[] = new Array(count + 1);
    let at = 0;
    for (let i = 0; i < count; i++) {
      starts[i] = at;
      at += bytes.latin1Write(lines[i], at);
      at += text.copy(bytes, at, view.lineStart(i), view.lineEnd(i));
    }
    starts[count] = at;
    return { bytes: bytes.subarray(0, at), starts };
  }
}
