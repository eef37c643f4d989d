// Live capture: a typed wrapper over the addon's libpcap capture (see
// native/live_capture.h). It runs in the process that holds the capture
// privilege and writes a pcap stream into a pipe; a dissecting process reads
// that stream on its standard input. No libwireshark in this process.
import type {
  NativeErrorCode,
  NativeInterface,
  NativeLiveCapture,
  NativeLiveOptions,
  NativeLiveStats,
  NativeLiveWorkerStats,
  NativeStreamFds,
} from '../../native/addon';
import { EspcapError, UsageError } from '../errors';
import { loadAddon } from './engine';

export type CaptureInterface = NativeInterface;
export type LiveOptions = NativeLiveOptions;

export type LiveStats = NativeLiveStats;
export type LiveCapture = NativeLiveCapture;
export type LiveWorkerStats = NativeLiveWorkerStats;
/** The write ends of one worker's stream: its pcap records, and their frame notes. */
export type StreamFds = NativeStreamFds;

export function listInterfaces(): CaptureInterface[] {
  try {
    return loadAddon().listInterfaces();
  } catch (err) {
    throw new EspcapError((err as Error).message);
  }
}

/** Opens the interface; an invalid BPF expression is a wrong command line. */
export function openLive(options: LiveOptions): LiveCapture {
  try {
    return loadAddon().openLive(options);
  } catch (err) {
    const e = err as Error & { code?: NativeErrorCode };
    if (e.code === undefined || e.code === 'INVALID_ARGUMENT') throw err; // a bug, not the user's
    if (e.code === 'BAD_BPF') throw new UsageError(e.message);
    throw new EspcapError(e.message, e.code);
  }
}

/** A pipe, both ends close-on-exec: [read end, write end]. */
export function makePipe(): [number, number] {
  return loadAddon().makePipe();
}

export function closeFd(fd: number): void {
  loadAddon().closeFd(fd);
}
