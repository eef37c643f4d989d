// The dissection engine: a typed wrapper over the native addon. One epan
// session per process, on the addon's own thread; JavaScript pulls batches.
import * as path from 'node:path';
import { EspcapError } from '../errors';

const packageRoot = path.join(__dirname, '..', '..', '..');

/** Packets dissected together and handed over in one native crossing. */
export interface PacketBatch {
  count: number;
  /** The packets' documents as NDJSON, one ASCII line each, back to back. */
  text: Buffer;
  /** Per packet SPANS offsets into `text`, where the parts of its line start (see `Span`); then the text's length. */
  offsets: Uint32Array;
  /** META_FIELDS numbers per packet, in the order of `Meta`. */
  meta: Float64Array;
  /** Fields written for the first time in this reader: "layer\tkey\tFT_TYPES\tabbrev" lines (FT_TYPES comma-separated). */
  newFields: string;
}

export const SPANS = 5;
/** Where parts of a packet's document line start. */
export const enum Span {
  /** The line itself. It ends where the next packet's starts. */
  Head = 0,
  /** The @timestamp value, ISO-8601 UTC with nanoseconds; it ends at the next '"'. */
  Timestamp = 1,
  /** The layers object, which ends where Tail starts. */
  Layers = 2,
  /** After the layers: the protocol, the ECS fields, the closing brace and newline. */
  Tail = 3,
  /** The highest protocol; it ends at the next '"'. */
  Protocol = 4,
}

export const META_FIELDS = 6;
export const enum Meta {
  FrameNumber = 0,
  Seconds = 1,
  Nanoseconds = 2,
  CapturedLength = 3,
  OriginalLength = 4,
  InterfaceId = 5,
}

export interface ReaderStats {
  /** Records read from the capture (the last frame number). */
  records: number;
  /** Packets delivered (after the display filter and the packet limit). */
  packets: number;
  /** epan session resets done inside this capture. */
  resets: number;
  /** Bytes of the file read so far (of the compressed file, if it is compressed): progress. */
  bytes: number;
  fileType: string;
  linkType: string;
}

export interface CaptureReader {
  next(): Promise<PacketBatch | null>;
  stats(): ReaderStats;
  /** Ends the reader once this record is read (at once if the engine has passed it). */
  stopAfter(record: number): void;
  close(): void;
}

export interface OpenOptions {
  path: string;
  /** Wireshark display filter. */
  filter?: string;
  /** Byte fields longer than this are left out; 0 keeps all. */
  maxBytes?: number;
  /** Reset epan's session state every N records (tshark -M); 0 never. */
  resetEvery?: number;
  /** Records to read without dissecting, to resume a capture. */
  skipRecords?: number;
  batchSize?: number;
  readAhead?: number;
  /** Stop after this many packets; 0 for no limit. */
  maxPackets?: number;
  /** false: dissect with a full tree but write no layers (the benchmark's floor). */
  walk?: boolean;
  /** The capture's own document fields, each preceded by a comma (see document.ts). */
  documentFields?: string;
  /** A live stream on standard input (path "-"): hand over batches without waiting for them to fill. */
  live?: boolean;
  /** Added to frame numbers in documents: a live stream continues the streams before it. */
  frameOffset?: number;
}

export interface NativeAddon {
  init(options: { configDir: string }): Promise<{ version: string }>;
  fieldRegistry(): Promise<string>;
  open(options: OpenOptions): Promise<CaptureReader>;
}

/** A capture that cannot be opened or read; `code` tells which problem. */
export class CaptureError extends EspcapError {}

let addon: NativeAddon | undefined;
let ready: Promise<{ version: string }> | undefined;

/** The native addon, loaded once. */
export function loadAddon(): NativeAddon {
  if (addon) return addon;
  const file = path.join(packageRoot, 'build', 'Release', 'espcap.node');
  try {
    addon = require(file) as NativeAddon;
  } catch (err) {
    throw new EspcapError(`the native addon could not be loaded (${(err as Error).message.split('\n')[0]}); run npm install`);
  }
  return addon;
}

/** Initialises libwireshark once per process, with a pinned, empty personal configuration and no name resolution. */
export function initEngine(): Promise<{ version: string }> {
  ready ??= loadAddon().init({ configDir: path.join(packageRoot, 'native', 'wireshark-config') });
  return ready;
}

export async function openCapture(options: OpenOptions): Promise<CaptureReader> {
  await initEngine();
  try {
    return await loadAddon().open(options);
  } catch (err) {
    throw asCaptureError(err);
  }
}

/** Reads the next batch, turning a read error into a CaptureError. */
export async function nextBatch(reader: CaptureReader): Promise<PacketBatch | null> {
  try {
    return await reader.next();
  } catch (err) {
    throw asCaptureError(err);
  }
}

function asCaptureError(err: unknown): CaptureError {
  const e = err as Error & { code?: string };
  return new CaptureError(e.message, e.code ?? 'ERROR');
}

/** One registered Wireshark field, with the keys espcap's documents use for it. */
export interface RegisteredField {
  /** Layer key of the field's protocol, e.g. "tcp". */
  layer: string;
  /** Key inside its own protocol's layer, e.g. "flags_syn"; "" for the protocol itself. */
  key: string;
  abbrev: string;
  /** Wireshark type, e.g. "FT_UINT16". */
  type: string;
  name: string;
  /** Key when the field appears inside another protocol's layer, e.g. "tcp_flags_syn". */
  foreignKey: string;
}

export async function fieldRegistry(): Promise<RegisteredField[]> {
  await initEngine();
  const text = await loadAddon().fieldRegistry();
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => {
      const [layer, key, abbrev, type, name, foreignKey] = line.split('\t');
      return { layer, key, abbrev, type, name, foreignKey };
    });
}
