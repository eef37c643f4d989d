// The declared contract of the raw native addon (build/Release/espcap.node),
// the one place TypeScript learns what the C++ side offers. src/engine/ wraps
// it in an idiomatic layer; nothing else loads the addon.
//
// Options objects are checked in C++ (native/js_options.h): every option below
// that is not marked optional must be given, of its type and in its range, and
// unknown options are refused, with a TypeError whose code is
// INVALID_ARGUMENT. Defaults are decided in TypeScript, never in C++.

/** Every `code` an Error from the addon can carry (native/error_code.h lists the same). */
export type NativeErrorCode =
  | 'ENOENT'
  | 'EACCES'
  | 'EISDIR'
  | 'UNKNOWN_FORMAT'
  | 'NOT_REGULAR_FILE'
  | 'EMPTY'
  | 'OPEN_ERROR'
  | 'READ_ERROR'
  | 'BAD_FILTER'
  | 'NO_SUCH_DEVICE'
  | 'PERMISSION'
  | 'BAD_BPF'
  | 'CAPTURE_ERROR'
  | 'ENGINE_ERROR'
  | 'INVALID_ARGUMENT';

export interface NativeError extends Error {
  code: NativeErrorCode;
}

/** Packets dissected together and handed over in one native crossing. */
export interface NativeBatch {
  count: number;
  /** The packets' documents as NDJSON, one ASCII line each, back to back. */
  text: Buffer;
  /** Per packet 5 offsets into `text` where the parts of its line start (see Span in src/engine/engine.ts); then the text's length. */
  offsets: Uint32Array;
  /** 6 numbers per packet (see Meta in src/engine/engine.ts). */
  meta: Float64Array;
  /** Fields written for the first time in this reader: "layer\tkey\tabbrev\tFT_TYPES" lines (fieldRegistry's columns; every type registered under the abbreviation, comma-separated). */
  newFields: string;
}

export interface NativeOpenOptions {
  /** A capture file, a FIFO, or "-" for standard input. */
  path: string;
  /** A Wireshark display filter; left out for none. */
  filter?: string;
  /** Byte fields longer than this are left out; 0 keeps all. 0 .. 2^32-1. */
  maxBytes: number;
  /** --session-packets: reset epan's session state every N records (tshark -M); 0 never. */
  sessionPackets: number;
  /** Records to read without dissecting, to resume a capture. */
  skipRecords: number;
  /** Packets per batch, 1 .. 2^20. */
  batchSize: number;
  /** Batches dissected ahead of what JavaScript took, 1 .. 1024. */
  readAhead: number;
  /** Stop after this many packets; 0 for no limit. */
  maxPackets: number;
  /** --dissect-only: dissect with a full tree but write no layers (the benchmark's floor). */
  dissectOnly: boolean;
  /** The capture's own document fields, each preceded by a comma (src/document.ts). */
  documentFields: string;
  /**
   * Live: the stream comes on standard input, and a frame note per record
   * (native/frame_note.h: its capture-wide number, the previous and the first
   * packet's times; 24 bytes, host order) on this descriptor; a batch is
   * handed over as soon as nothing more is waiting. Left out for a file.
   */
  frameNotesFd?: number;
  /** Only a part of the file (see planParts), read as a capture of its own; skipRecords counts from the file's start. */
  part?: NativePart;
}

/** A part of a capture file: its records are numbered from firstRecord + 1. */
export interface NativePart {
  firstRecord: number;
  /** Its bytes: from start (1 or more) to end (0: the end of the file). */
  start: number;
  end: number;
  /** NativePartPlan.headerBytes. */
  headerBytes: number;
  /** NativePartPlan.fileType: the part must read as the same format. */
  fileType: string;
}

/** Where a capture file can be cut for dissecting processes to read its parts side by side. */
export interface NativePartPlan {
  /** wiretap's name of the format. */
  fileType: string;
  /** Records read (to the end, or to a read error). */
  records: number;
  /** Bytes before the first record, put in front of every part. */
  headerBytes: number;
  /** Byte offset of record k * every + 1, for k = 1, 2, ... (empty when it must be read whole). */
  starts: number[];
  /** Why it must be read whole by one process; "" if it can be cut. */
  wholeReason: string;
}

export interface NativeReaderStats {
  records: number;
  packets: number;
  resets: number;
  bytes: number;
  fileType: string;
  linkType: string;
}

export interface NativeReader {
  /** The next batch, null at the end; rejects with a NativeError at a read error. */
  next(): Promise<NativeBatch | null>;
  stats(): NativeReaderStats;
  /** Ends the reader once this record (1 or more) is read. */
  stopAfter(record: number): void;
  close(): void;
}

/** How the engine writes a Wireshark field type's values (native/document_contract.h). */
export type ValueKind =
  | 'present'
  | 'boolean'
  | 'uint32'
  | 'int32'
  | 'uint64'
  | 'int64'
  | 'float'
  | 'iso-time'
  | 'seconds'
  | 'text'
  | 'hex'
  | 'mac'
  | 'ipv4'
  | 'ipv6'
  | 'display';

export interface NativeDocumentContract {
  /** The top-level fields of every packet document the engine writes, in order. */
  packetFields: { name: string; json: 'iso-time' | 'epoch-millis' | 'iso-seconds' | 'number' | 'string' | 'strings' | 'object'; always: boolean }[];
  /** Every FT_* type of this libwireshark, and how its values are written. */
  valueKinds: Record<string, ValueKind>;
}

/** One frame of a capture as stored. */
export interface NativeRawFrame {
  /** 1-based, as documents count frames (every record of the capture). */
  frame: number;
  /** pcap LINKTYPE_ value; -1 when the record cannot be written as a pcapng packet (`note` says why). */
  linkType: number;
  note?: string;
  seconds: number;
  nanoseconds: number;
  /** Bytes on the wire. */
  length: number;
  /** The captured bytes. */
  data: Buffer;
}

export interface NativeFrameReader {
  /** Reads on to each frame (whole numbers, ascending, after position()); frames past the end are left out. Throws a NativeError at a read error. */
  read(frames: number[]): NativeRawFrame[];
  /** The last record read, 0 before the first. */
  position(): number;
  /** Closes the capture now (not at garbage collection). */
  close(): void;
}

export interface NativeInterface {
  name: string;
  description: string;
  addresses: string[];
  loopback: boolean;
  up: boolean;
  running: boolean;
}

export interface NativeLiveOptions {
  interface: string;
  /** Benchmarks only: packets come from this capture file as fast as the workers take them (nothing dropped), then capture ends. */
  sourceFile?: string;
  /** Kernel (BPF) filter; left out for none. */
  bpf?: string;
  /** 1 .. 262144. */
  snaplen: number;
  promisc: boolean;
  bufferBytes: number;
  /** Bytes between the capture thread and each worker's writer, at least 1 MiB. */
  queueBytes: number;
  /** Stop after this many packets; 0 for no limit. */
  maxPackets: number;
}

/** One worker's share of a live capture. */
export interface NativeLiveWorkerStats {
  /** Packets the flow hash gave it and its queue took (see NativeLiveStats.captured). */
  captured: number;
  written: number;
  queueDrops: number;
  queuedBytes: number;
}

export interface NativeLiveStats {
  /** Packets taken from libpcap and queued for a worker: one dropped for a full queue is not counted (and gets no frame number). */
  captured: number;
  /** Packets written into the dissecting processes' streams. */
  written: number;
  /** Dropped by espcap: its queue was full (dissection too slow), or a dissecting process died with them. */
  queueDrops: number;
  /** libpcap's counters (pcap_stats): packets the kernel saw, dropped in its buffer, dropped by the interface. */
  kernelReceived: number;
  kernelDrops: number;
  interfaceDrops: number;
  queuedBytes: number;
  /** Capture has ended and everything captured is written. */
  finished: boolean;
  /** Why capture ended early, or "". */
  error: string;
  /** Per worker; the counters above (but the kernel's) are their sums. */
  workers: NativeLiveWorkerStats[];
}

/** The write ends of a worker's stream: its pcap records, and their frame notes. */
export interface NativeStreamFds {
  records: number;
  frames: number;
}

export interface NativeLiveCapture {
  linkType: number;
  /** Whether packets of this link type are spread by flow (else they all go to worker 0). */
  flowsKnown: boolean;
  /** Starts capturing for 1 to 1024 workers, worker i's stream into streams[i] (the capture owns the descriptors); packets are spread over them by flow. */
  start(streams: NativeStreamFds[]): void;
  /** The worker's later packets go to a new stream; its current stream ends after a whole packet. */
  switchTo(worker: number, stream: NativeStreamFds): void;
  /** Packets written to the worker before its last switch, -1 while it is pending. */
  switchedAt(worker: number): number;
  stop(): void;
  stats(): NativeLiveStats;
}

export interface NativeAddon {
  /** The libwireshark release linked, known without starting it. */
  readonly wiresharkVersion: string;
  /** Starts libwireshark once per process; later calls give the same answer. */
  init(options: { configDir: string }): Promise<{ version: string }>;
  /** Every registered field: "layer\tkey\tabbrev\tFT_TYPE\tname" lines (after init). */
  fieldRegistry(): Promise<string>;
  /** After init (it reads epan's type table); throws a NativeError before it. */
  documentContract(): NativeDocumentContract;
  errorCodes(): NativeErrorCode[];
  /** Opens a capture (after init); rejects with a NativeError. */
  open(options: NativeOpenOptions): Promise<NativeReader>;
  /** Reads a capture file with wiretap (no dissection) and plans its parts of `every` records; rejects with a NativeError if it cannot be opened. After init(). */
  planParts(path: string, every: number): Promise<NativePartPlan>;
  /** Compiles a Wireshark display filter (after init): "" when valid, else epan's message. */
  checkFilter(filter: string): Promise<string>;
  /** Opens a capture to read chosen frames back as stored (after init); throws a NativeError. */
  openFrames(path: string): NativeFrameReader;
  listInterfaces(): NativeInterface[];
  /** Opens an interface; throws a NativeError (NO_SUCH_DEVICE, PERMISSION, BAD_BPF, CAPTURE_ERROR). */
  openLive(options: NativeLiveOptions): NativeLiveCapture;
  /** A pipe, both ends close-on-exec: [read end, write end]. */
  makePipe(): [number, number];
  closeFd(fd: number): void;
}
