// What every output (readable dump, NDJSON, Elasticsearch) offers the
// pipeline, in three parts, so that cli/ and pipeline/ never ask which one
// they have:
//   prepare  in espcap's own process, before any packet is read: check and
//            create what the output needs (a file, a cluster's template),
//            and say what the dissecting processes are to write to (a spec);
//   sink     in each dissecting process, from the spec: takes the batches;
//   report   in espcap's own process, after the run: its summary lines and
//            whether it failed.
import type { FileCounts, PacketSink } from '../sink';

/** A capture every packet of which is settled (written, stored or dead-lettered). */
export interface SettledCapture {
  captureId: string;
  path: string;
  size: number;
  packets: number;
  counts: FileCounts;
}

/** What the dissecting processes did, for the report. */
export interface RunOutcome {
  /** Packets read and handed to the output. */
  packets: number;
  counts: FileCounts;
  /** What each dissecting process's sink reported when it closed (PacketSink.report). */
  sinkReports: unknown[];
}

/**
 * Captures shared with other espcap processes writing to the same output (an
 * output that several hosts share: Elasticsearch): each is read by one of them.
 */
export interface FileClaims {
  /** Before reading a capture: read it now ("ours"), it is done elsewhere, or another process reads it ("held": ask again later). */
  claim(capture: { captureId: string; path: string; size: number }): Promise<'ours' | 'done' | 'held'>;
  /** Reading it failed or stopped: another process may take it at once. */
  release(captureId: string): Promise<void>;
  /** How long to wait before asking again about captures held elsewhere. */
  readonly retryMs: number;
}

/** An output made ready for one run (in espcap's own process). */
export interface PreparedOutput<Spec = unknown> {
  /** What the dissecting processes are told (plain data: it crosses IPC). */
  readonly spec: Spec;
  /** Packets go to standard output: no progress line may mix with them. */
  readonly toStdout: boolean;
  /** Leaves out the captures an earlier run finished (resume), saying so; outputs without a memory keep all. */
  skipFinished<F extends { captureId?: string }>(files: F[]): Promise<F[]>;
  /** A capture is settled: an output that remembers finished captures records it. */
  captureSettled(capture: SettledCapture): void;
  /** For an output other processes may share: who reads which capture. */
  readonly claims?: FileClaims;
  /**
   * The files the dissecting processes write, opened here by `open` (live
   * capture: before privileges are dropped) and named as `open` returns.
   */
  handDown(open: (file: string, flags: 'a' | 'w') => string): Spec;
  /** Writes the output's summary lines; true if the run failed for the output. */
  report(outcome: RunOutcome, quiet: boolean): boolean;
  close(): Promise<void>;
}

/** Run-wide facts an output's preparation depends on. */
export interface RunShape {
  /** Dissecting processes writing at once. */
  workers: number;
  quiet: boolean;
  /** The display filter of the run, if any (a filtered run covers part of each capture). */
  filter?: string;
}

export interface OutputModule<Choice, Spec> {
  prepare(choice: Choice, run: RunShape): Promise<PreparedOutput<Spec>>;
  openSink(spec: Spec): Promise<PacketSink>;
}
