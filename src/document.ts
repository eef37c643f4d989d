// The one place that decides what a packet document looks like.
//
//   {"@timestamp":"2015-07-30T05:22:10.468623000Z", "sniff_timestamp":1438233730468.623,
//    "sniff_date_utc":"2015-07-30T05:22:10", "protocol":"http", "capture":"file",
//    "file_name":"/data/x.pcap", "file_date_utc":"2024-01-02T03:04:05", "frame_number":1,
//    "captured_length":78, "length":78, "interface_id":0 (pcapng only), "layers":{...}}
//
// Documents are assembled as strings around the layers JSON the engine wrote:
// no per-document JSON.parse or JSON.stringify.
import { Meta, META_FIELDS, PacketBatch } from './engine/engine';

/** Where packets come from, fixed for a whole capture. */
export interface CaptureContext {
  capture: 'file' | 'live';
  /** Path of the capture file (file captures only). */
  fileName?: string;
  /** Modification time of the capture file (file captures only). */
  fileDate?: Date;
}

/** Read access to the packets of one batch. */
export class BatchView {
  private readonly text: string;

  constructor(readonly batch: PacketBatch) {
    // The engine writes pure ASCII, so a latin1 decode is exact and byte
    // offsets are string offsets.
    this.text = batch.text.toString('latin1');
  }

  get count(): number {
    return this.batch.count;
  }
  timestamp(i: number): string {
    return this.text.slice(this.batch.offsets[3 * i], this.batch.offsets[3 * i + 1]);
  }
  protocol(i: number): string {
    return this.text.slice(this.batch.offsets[3 * i + 1], this.batch.offsets[3 * i + 2]);
  }
  layersJson(i: number): string {
    return this.text.slice(this.batch.offsets[3 * i + 2], this.batch.offsets[3 * i + 3]);
  }
  meta(i: number, field: Meta): number {
    return this.batch.meta[META_FIELDS * i + field];
  }
  /** The packet's UTC day, YYYY-MM-DD. */
  day(i: number): string {
    return this.text.slice(this.batch.offsets[3 * i], this.batch.offsets[3 * i] + 10);
  }
}

function isoSeconds(date: Date): string {
  return date.toISOString().slice(0, 19);
}

/** Builds the documents of a capture. */
export class DocumentBuilder {
  private readonly captureFields: string;

  constructor(readonly context: CaptureContext) {
    let fields = `,"capture":"${context.capture}"`;
    if (context.capture === 'file') {
      fields += `,"file_name":${JSON.stringify(context.fileName ?? '')}`;
      if (context.fileDate) fields += `,"file_date_utc":"${isoSeconds(context.fileDate)}"`;
    }
    this.captureFields = fields;
  }

  /** The document of packet i of the batch, as a JSON string. */
  document(view: BatchView, i: number): string {
    const timestamp = view.timestamp(i);
    const millis = view.meta(i, Meta.Seconds) * 1000 + view.meta(i, Meta.Nanoseconds) / 1e6;
    const interfaceId = view.meta(i, Meta.InterfaceId);
    return (
      `{"@timestamp":"${timestamp}","sniff_timestamp":${millis},"sniff_date_utc":"${timestamp.slice(0, 19)}",` +
      `"protocol":"${view.protocol(i)}"${this.captureFields},"frame_number":${view.meta(i, Meta.FrameNumber)},` +
      `"captured_length":${view.meta(i, Meta.CapturedLength)},"length":${view.meta(i, Meta.OriginalLength)},` +
      (interfaceId >= 0 ? `"interface_id":${interfaceId},` : '') +
      `"layers":${view.layersJson(i)}}`
    );
  }
}
