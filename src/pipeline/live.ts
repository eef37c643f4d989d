// Live capture: this process captures (libpcap, on the addon's threads) and
// writes a pcap stream into a pipe; a dissecting process reads the stream on
// its standard input, dissects it and writes the documents (as for files).
//
// A dissecting process past --worker-max-rss is replaced while capture goes
// on: a successor, started ahead of time on a pipe of its own, gets the
// stream from the next packet on (the switch happens between two whole
// packets); the old process reads to the end of its stream, flushes and
// exits. Packets arriving meanwhile wait in the capture queue, so the
// hand-over loses nothing; the successor writes its first document only once
// the old process has written its last, so documents stay in capture order.
// Frame numbers (and so document ids) continue across the streams.
import type { LiveCapture, LiveStats } from '../engine/live-capture';
import { EspcapError } from '../errors';
import type { OutputSpec } from '../outputs';
import { addFileCounts, FileCounts, noFileCounts } from '../outputs/sink';
import { DissectOptions } from './dissect-file';
import { DissectingProcess, Supervisor } from './supervisor';
import type { FromWorker } from './worker';

export interface LiveRunOptions {
  interfaceName: string;
  /** Identity of this capture run: documents are `<runId>-<frame number>`. */
  runId: string;
  dissect: DissectOptions;
  output: OutputSpec;
  /** File descriptors the dissecting processes inherit as 4, 5, ... (outputs opened before privileges were dropped). */
  inheritFds: number[];
  /** Every tick (250 ms): what the run has done so far. */
  onTick?(status: LiveStatus): void;
}

export interface LiveStatus extends LiveStats {
  /** Packets dissected (and written to the output). */
  dissected: number;
}

export interface LiveRun {
  status: LiveStatus;
  counts: FileCounts;
  /** What each process's sink reported (for the output's report). */
  sinkReports: unknown[];
  /** Dissecting processes put to work (more than one: replaced to bound memory, or after a crash). */
  processes: number;
  interrupted: boolean;
  /** Dissecting processes that died, with how. */
  crashes: string[];
}

export async function runLive(capture: LiveCapture, options: LiveRunOptions): Promise<LiveRun> {
  const status: LiveStatus = { ...capture.stats(), dissected: 0 };
  const counts = noFileCounts();
  const crashes: string[] = [];
  let current: DissectingProcess;
  /** A successor waiting for the stream to move to it (see replace()). */
  let switching: { next: DissectingProcess; timer: NodeJS.Timeout } | undefined;
  let stopping = false;
  let failure: Error | undefined;

  /** Successors waiting to write until their predecessor has written everything (documents stay in capture order). */
  const successors = new Map<DissectingProcess, DissectingProcess>();

  /**
   * Starts dissecting the stream (from frame `frameOffset` + 1 on) until
   * capture ends; then it flushes and exits. A successor writes nothing
   * before its predecessor is done ('go').
   */
  const giveStream = (process: DissectingProcess, frameOffset: number, predecessor?: DissectingProcess) => {
    const afterPredecessor = predecessor !== undefined && supervisor.processes.has(predecessor) && !predecessor.done;
    if (afterPredecessor) successors.set(predecessor, process);
    process.send({
      type: 'job',
      job: { path: '-', captureId: options.runId, skipRecords: 0, maxPackets: 0, live: { interfaceName: options.interfaceName, frameOffset, afterPredecessor } },
    });
    process.send({ type: 'finish' });
  };

  /** A process has written all it will (done, or gone): its successor may write. */
  const letSuccessorWrite = (process: DissectingProcess) => {
    const successor = successors.get(process);
    if (!successor) return;
    successors.delete(process);
    successor.send({ type: 'go' });
  };

  /** The stream goes to a fresh process from the next packet on. */
  const replace = () => {
    if (switching || stopping) return;
    const next = supervisor.start();
    capture.switchTo(next.stream!);
    const timer = setInterval(() => {
      const at = capture.switchedAt();
      if (at < 0) return;
      clearInterval(timer);
      giveStream(next, at, current);
      current = next;
      switching = undefined;
    }, 5);
    switching = { next, timer };
  };

  /**
   * The capture ended (--count, an error) before the stream could move to a
   * successor: the stream it had ended with the capture, nothing is left for
   * the successor, which is stopped unused.
   */
  const abandonSwitch = () => {
    if (!switching || capture.switchedAt() >= 0) return;
    clearInterval(switching.timer);
    supervisor.abandon(switching.next);
    switching = undefined;
  };

  const onMessage = (process: DissectingProcess, m: FromWorker) => {
    switch (m.type) {
      case 'progress':
        status.dissected += m.packets;
        break;
      case 'near-limit':
        if (process === current && !stopping) supervisor.prepareSpare();
        break;
      case 'over-limit':
        if (process === current) replace();
        break;
      case 'read':
        if (m.result.error) failure ??= new EspcapError(`reading the capture stream failed: ${m.result.error.message}`);
        break;
      case 'settled':
        addFileCounts(counts, m.counts);
        break;
      case 'done':
        letSuccessorWrite(process);
        break;
      case 'fatal':
        letSuccessorWrite(process);
        failure ??= supervisor.failure;
        stop();
        break;
    }
  };

  const onExit = (process: DissectingProcess, how: string) => {
    letSuccessorWrite(process);
    if (!process.crashed) return;
    // A crash in a dissector: what it had not flushed is lost (and counted as
    // not indexed); the stream goes on in a fresh process.
    crashes.push(how);
    if (process === current && !stopping) replace();
  };

  function stop(): void {
    if (stopping) return;
    stopping = true;
    capture.stop();
    if (!switching) supervisor.discardSpare();
  }

  // Ctrl-C or SIGTERM: stop capturing, dissect and write what was captured, flush, report.
  const supervisor = new Supervisor({
    dissect: options.dissect,
    output: options.output,
    streams: true,
    inheritFds: options.inheritFds,
    onMessage,
    onExit,
    onInterrupt: stop,
  });

  await supervisor.watchingSignals(async () => {
    current = supervisor.start();
    capture.start(current.stream!);
    giveStream(current, 0);
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const stats = capture.stats();
      Object.assign(status, stats);
      options.onTick?.(status);
      if (stats.error) failure ??= new EspcapError(stats.error);
      if (stats.finished) {
        stopping = true; // --count reached, or the capture failed
        abandonSwitch(); // read after `finished`: no switch can happen any more
      }
      if (stopping && !switching) supervisor.discardSpare();
      if (stopping && stats.finished && !switching && [...supervisor.processes].every((p) => p.discarded)) break;
    }
  });
  Object.assign(status, capture.stats());
  if (failure) throw failure;
  return { status, counts, sinkReports: supervisor.sinkReports, processes: supervisor.used, interrupted: supervisor.interrupted, crashes };
}
