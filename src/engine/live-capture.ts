// Live capture: a typed wrapper over the addon's libpcap capture (see
// native/live_capture.h). It runs in the process that holds the capture
// privilege and writes a pcap stream into a pipe; a dissecting process reads
// that stream on its standard input. No libwireshark in this process.
import { EspcapError, UsageError } from '../errors';
import { loadAddon } from './engine';

export interface CaptureInterface {
  name: string;
  description: string;
  addresses: string[];
  loopback: boolean;
  up: boolean;
  running: boolean;
}

export interface LiveOptions {
  interface: string;
  bpf?: string;
  snaplen: number;
  promisc: boolean;
  bufferBytes: number;
  queueBytes: number;
  /** Stop after this many packets; 0 for no limit. */
  maxPackets: number;
}

export interface LiveStats {
  /** Packets taken from libpcap. */
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
}

export interface LiveCapture {
  linkType: number;
  /** Starts capturing into the pipe whose write end is `fd` (the capture owns it). */
  start(fd: number): void;
  /** Later packets go to a new stream on `fd`; the current stream ends after a whole packet. */
  switchTo(fd: number): void;
  /** Packets written to the streams before the last switch, -1 while it is pending. */
  switchedAt(): number;
  stop(): void;
  stats(): LiveStats;
}

interface LiveAddon {
  listInterfaces(): CaptureInterface[];
  openLive(options: LiveOptions): LiveCapture;
  makePipe(): [number, number];
  closeFd(fd: number): void;
}

const live = () => loadAddon() as unknown as LiveAddon;

export function listInterfaces(): CaptureInterface[] {
  try {
    return live().listInterfaces();
  } catch (err) {
    throw new EspcapError((err as Error).message);
  }
}

/** Opens the interface; an invalid BPF expression is a wrong command line. */
export function openLive(options: LiveOptions): LiveCapture {
  try {
    return live().openLive(options);
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e.code === 'BAD_BPF') throw new UsageError(e.message);
    throw new EspcapError(e.message, e.code);
  }
}

/** A pipe, both ends close-on-exec: [read end, write end]. */
export function makePipe(): [number, number] {
  return live().makePipe();
}

export function closeFd(fd: number): void {
  live().closeFd(fd);
}
