// The one place that decides what a packet document looks like.
//
//   {"@timestamp":"2015-07-30T05:22:10.468623000Z", "sniff_timestamp":1438233730468.623,
//    "sniff_date_utc":"2015-07-30T05:22:10", "protocol":"http", "capture":"file",
//    "capture_id":"9f86d081884c7d659a2f", "file_name":"/data/x.pcap", "file_date_utc":"2024-01-02T03:04:05", "frame_number":1,
//    "captured_length":78, "length":78, "interface_id":0 (pcapng only),
//    "source":{"ip":"10.0.0.4","port":59803,"mac":"60-F8-1D-CB-43-84"}, "destination":{...},
//    "network":{"transport":"tcp","type":"ipv4","protocol":"http"}, "layers":{...}}
//
// source/destination/network are the ECS fields Kibana users expect, from the
// packet's outermost addresses and transport (the engine's flow summary).
//
// Documents are assembled as strings around the layers JSON the engine wrote:
// no per-document JSON.parse or JSON.stringify.
import { Meta, META_FIELDS, PacketBatch, Span, SPANS } from './engine/engine';

/** Where packets come from, fixed for a whole capture. */
export interface CaptureContext {
  capture: 'file' | 'live';
  /** Path of the capture file (file captures only). */
  fileName?: string;
  /** Modification time of the capture file (file captures only). */
  fileDate?: Date;
  /** Identity of the capture, for document ids (see capture-id.ts). */
  id?: string;
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
  private span(i: number, k: Span): string {
    return this.batch.text.latin1Slice(this.batch.offsets[SPANS * i + k], this.batch.offsets[SPANS * i + k + 1]);
  }
  timestamp(i: number): string {
    return this.span(i, Span.Timestamp);
  }
  protocol(i: number): string {
    return this.span(i, Span.Protocol);
  }
  flowJson(i: number): string {
    return this.span(i, Span.Flow);
  }
  layersJson(i: number): string {
    return this.text.slice(this.batch.offsets[SPANS * i + Span.Layers], this.batch.offsets[SPANS * i + Span.Layers + 1]);
  }
  meta(i: number, field: Meta): number {
    return this.batch.meta[META_FIELDS * i + field];
  }
  /** The packet's UTC day, YYYY-MM-DD. */
  day(i: number): string {
    return this.span(i, Span.Timestamp).slice(0, 10);
  }
}

// Buffer's latin1 accessors exist at run time but are not in Node's typings.
declare module 'node:buffer' {
  interface Buffer {
    latin1Slice(start: number, end: number): string;
    latin1Write(text: string, offset: number): number;
  }
}

type Flow = [string | null, string | null, number | null, number | null, string | null, string | null, string | null, string | null];

/** ECS writes MAC addresses upper case with hyphens: 00-00-5E-00-53-23. */
function ecsMac(mac: string): string {
  return mac.toUpperCase().replaceAll(':', '-');
}

function endpoint(ip: string | null, port: number | null, mac: string | null): string {
  const parts: string[] = [];
  if (ip !== null) parts.push(`"ip":"${ip}"`);
  if (port !== null) parts.push(`"port":${port}`);
  if (mac !== null) parts.push(`"mac":"${ecsMac(mac)}"`);
  return `{${parts.join(',')}}`;
}

/** source, destination and network, each followed by a comma; empty parts are left out. */
function ecsFields(flowJson: string, protocol: string): string {
  const [srcIp, dstIp, srcPort, dstPort, transport, type, srcMac, dstMac] = JSON.parse(flowJson) as Flow;
  let out = '';
  if (srcIp !== null || srcPort !== null || srcMac !== null) out += `"source":${endpoint(srcIp, srcPort, srcMac)},`;
  if (dstIp !== null || dstPort !== null || dstMac !== null) out += `"destination":${endpoint(dstIp, dstPort, dstMac)},`;
  out += `"network":{${transport ? `"transport":"${transport}",` : ''}${type ? `"type":"${type}",` : ''}"protocol":"${protocol}"},`;
  return out;
}

function isoSeconds(date: Date): string {
  return date.toISOString().slice(0, 19);
}

/** Builds the documents of a capture. */
export class DocumentBuilder {
  private readonly captureFields: string;

  constructor(readonly context: CaptureContext) {
    let fields = `,"capture":"${context.capture}"`;
    if (context.id) fields += `,"capture_id":"${context.id}"`;
    if (context.capture === 'file') {
      // JSON.stringify leaves non-ASCII as is; escape it so documents stay ASCII.
      const name = JSON.stringify(context.fileName ?? '').replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
      fields += `,"file_name":${name}`;
      if (context.fileDate) fields += `,"file_date_utc":"${isoSeconds(context.fileDate)}"`;
    }
    this.captureFields = fields;
  }

  /** Everything of packet i's document before its layers object. */
  private prefix(view: BatchView, i: number): string {
    const timestamp = view.timestamp(i);
    const protocol = view.protocol(i);
    const millis = view.meta(i, Meta.Seconds) * 1000 + view.meta(i, Meta.Nanoseconds) / 1e6;
    const interfaceId = view.meta(i, Meta.InterfaceId);
    return (
      `{"@timestamp":"${timestamp}","sniff_timestamp":${millis},"sniff_date_utc":"${timestamp.slice(0, 19)}",` +
      `"protocol":"${protocol}"${this.captureFields},"frame_number":${view.meta(i, Meta.FrameNumber)},` +
      `"captured_length":${view.meta(i, Meta.CapturedLength)},"length":${view.meta(i, Meta.OriginalLength)},` +
      (interfaceId >= 0 ? `"interface_id":${interfaceId},` : '') +
      ecsFields(view.flowJson(i), protocol) +
      `"layers":`
    );
  }

  /**
   * The documents of a whole batch as NDJSON bytes: each packet's short
   * prefix is written as text and its layers copied byte for byte, so the
   * layers never become a JavaScript string.
   */
  ndjson(view: BatchView, eachLine?: (i: number, out: Buffer, at: number) => number): Buffer {
    const { text, offsets, count } = view.batch;
    const out = Buffer.allocUnsafe(text.length + count * (this.captureFields.length + 400));
    let at = 0;
    for (let i = 0; i < count; i++) {
      if (eachLine) at = eachLine(i, out, at);
      at += out.latin1Write(this.prefix(view, i), at);
      at += text.copy(out, at, offsets[SPANS * i + Span.Layers], offsets[SPANS * i + Span.Layers + 1]);
      out[at++] = 0x7d; // }
      out[at++] = 0x0a; // newline
    }
    return out.subarray(0, at);
  }
}
