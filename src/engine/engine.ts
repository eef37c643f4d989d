// The dissection engine: a typed wrapper over the native addon. One epan
// session per process, on the addon's own thread; JavaScript pulls batches.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import type {
  NativeAddon,
  NativeBatch,
  NativeDocumentContract,
  NativeErrorCode,
  NativeFrameReader,
  NativeOpenOptions,
  NativePart,
  NativePartPlan,
  NativeReader,
  NativeReaderStats,
  NativeRawFrame,
  ValueKind,
} from '../../native/addon';
import { EspcapError } from '../errors';

const packageRoot = path.join(__dirname, '..', '..', '..');

/** Packets dissected together and handed over in one native crossing. */
export type PacketBatch = NativeBatch;

export const SPANS = 5;
/** Where parts of a packet's document line start: PacketBatch::Span of native/packet_batch.h, in its order. */
export const enum Span {
  /** The line itself. It ends where the next packet's starts. */
  Head = 0,
  /** The @timestamp value, ISO-8601 UTC with nanoseconds; it ends at the next '"'. */
  Timestamp = 1,
  /** The layers object, which ends where Tail starts. */
  Layers = 2,
  /** After the layers: the protocol, the protocols, the ECS fields, the closing brace and newline. */
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

export type ReaderStats = NativeReaderStats;
export type CaptureReader = NativeReader;

/** How a capture is read: every option the addon takes, but the engine's own batching. */
export type OpenOptions = Omit<NativeOpenOptions, 'batchSize' | 'readAhead'>;

/**
 * Packets per batch (one native crossing each) and batches dissected ahead of
 * what JavaScript took: enough to keep the engine thread busy while
 * JavaScript writes, little enough to bound memory.
 */
const BATCHING = { batchSize: 512, readAhead: 4 };

/** A capture that cannot be opened or read; `code` tells which problem. */
export class CaptureError extends EspcapError {
  constructor(message: string, readonly code: NativeErrorCode) {
    super(message, code);
  }
}

let addon: NativeAddon | undefined;
let ready: Promise<{ version: string }> | undefined;

/** The native addon, loaded once. */
export function loadAddon(): NativeAddon {
  if (addon) return addon;
  // ESPCAP_ADDON: another build of the addon (the sanitizer run's, test/sanitized-addon.test.ts).
  const file = process.env.ESPCAP_ADDON || path.join(packageRoot, 'build', 'Release', 'espcap.node');
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

/**
 * libwireshark's verdict on a display filter: '' when it is valid, else its
 * message. Asked in a disposable process (check-filter-child.ts): some
 * filters crash libwireshark while it compiles them (4.0: tcp.dstport <= 'P'
 * < tcp.srcport, a double free, in tshark too), and espcap must survive them.
 */
export function checkDisplayFilter(filter: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'check-filter-child.js')], { stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.on('error', (err) => reject(new EspcapError(`cannot check the display filter: ${err.message}`)));
    child.on('close', (code, signal) => {
      if (signal) return resolve(`libwireshark crashed compiling it (${signal})`);
      try {
        resolve((JSON.parse(out) as { problem: string }).problem);
      } catch {
        reject(new EspcapError(`cannot check the display filter: its process exited with code ${code}`));
      }
    });
    child.stdin.end(filter);
  });
}

export async function openCapture(options: OpenOptions): Promise<CaptureReader> {
  await initEngine();
  try {
    const { filter, ...rest } = options;
    // A filter left out is no filter: the addon takes no undefined values.
    return await loadAddon().open({ ...BATCHING, ...rest, ...(filter === undefined ? {} : { filter }) });
  } catch (err) {
    throw asCaptureError(err);
  }
}

/** A part of a capture file, read as a capture of its own (native/capture_parts.h). */
export type CapturePart = NativePart;
export type PartPlan = NativePartPlan;

/**
 * Where a capture file can be cut into parts of `every` records for several
 * processes to dissect side by side: wiretap reads it through once.
 */
export async function planParts(path: string, every: number): Promise<PartPlan> {
  await initEngine();
  try {
    return await loadAddon().planParts(path, every);
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
  const e = err as Error & { code?: NativeErrorCode };
  // An error without a code is not the addon's: a bug, not a capture problem.
  if (e.code === undefined || e.code === 'INVALID_ARGUMENT') throw err;
  return new CaptureError(e.message, e.code);
}

/** One registered Wireshark field, with its path in documents: layers.<layer>.<key>. */
export interface RegisteredField {
  /** Layer key of the protocol its abbreviation names, e.g. "tcp" (also for dns.* fields under mDNS). */
  layer: string;
  /** Key inside its own protocol's layer, e.g. "flags_syn"; "" for the protocol itself. */
  key: string;
  abbrev: string;
  /** Wireshark type, e.g. "FT_UINT16". */
  type: string;
  name: string;
}

/** Every registered field, or (`only`) those whose abbreviations are given: 236,000 fields cost 100 MB as objects. */
export async function fieldRegistry(only?: ReadonlySet<string>): Promise<RegisteredField[]> {
  await initEngine();
  const text = await loadAddon().fieldRegistry();
  const fields: RegisteredField[] = [];
  for (let start = 0; start < text.length; ) {
    const end = text.indexOf('\n', start) >>> 0; // no final newline: past the end
    if (only) {
      // The abbreviation is the third column.
      const from = text.indexOf('\t', text.indexOf('\t', start) + 1) + 1;
      if (!only.has(text.slice(from, text.indexOf('\t', from)))) {
        start = end + 1;
        continue;
      }
    }
    const [layer, key, abbrev, type, name] = text.slice(start, end).split('\t');
    if (abbrev !== undefined) fields.push({ layer, key, abbrev, type, name });
    start = end + 1;
  }
  return fields;
}

/** The engine's half of the document contract (native/document_contract.h), once the engine is up. */
export async function documentContract(): Promise<NativeDocumentContract> {
  await initEngine();
  return loadAddon().documentContract();
}

/** How a field's values are written in documents (the contract's valueKinds). */
export type { ValueKind };

/** Reads chosen frames of a capture as they are stored, without dissecting them (for --write). */
export type FrameReader = NativeFrameReader;
export type RawFrame = NativeRawFrame;

export function openFrames(file: string): FrameReader {
  return loadAddon().openFrames(file);
}

/** The libwireshark release the addon links, known without starting it. */
export function wiresharkVersion(): string {
  return loadAddon().wiresharkVersion;
}
