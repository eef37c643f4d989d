// Live capture: this process captures (libpcap, on the addon's threads) and
// spreads the packets over N workers by a hash of their flow, the same in both
// directions (native/flow_hash.h): each worker's packets are written as a pcap
// stream into a pipe, and a dissecting process reads it on its standard
// input, dissects it and writes the documents (as for files). Frame numbers
// stay capture-wide: they travel beside each stream (native/live_capture.h).
//
// A worker's dissecting process past --worker-max-rss is replaced while
// capture goes on: a successor, started ahead of time on pipes of its own,
// gets the worker's stream from the next packet on (the switch happens
// between two whole packets); the old process reads to the end of its
// stream, flushes and exits. Packets arriving meanwhile wait in the worker's
// queue, so the hand-over loses nothing; the successor writes its first
// document only once the old process has written its last, so a worker's
// documents stay in capture order. A process that dies is replaced the same
// way; what it had not written is lost and counted, the other workers go on.
import type { LiveCapture, LiveStats, LiveWorkerStats } from '../engine/live-capture';
import { EspcapError } from '../errors';
import type { OutputSpec } from '../outputs';
import { addFileCounts, FileCounts, noFileCounts } from '../sink';
import { DissectOptions } from './dissect-file';
import { DissectingProcess, Supervisor } from './supervisor';
import type { FromWorker } from './worker';

export interface LiveRunOptions {
  interfaceName: string;
  /** Identity of this capture run: documents are `<runId>-<frame number>`. */
  runId: string;
  /** Dissecting processes the packets are spread over, each with its own share of flows. */
  workers: number;
  dissect: DissectOptions;
  output: OutputSpec;
  /** File descriptors the dissecting processes inherit as 4, 5, ... (outputs opened before privileges were dropped). */
  inheritFds: number[];
  /** Every tick (250 ms): what the run has done so far. */
  onTick?(status: LiveStatus): void;
}

export interface WorkerStatus extends LiveWorkerStats {
  /** Packets its processes dissected (and wrote to the output). */
  dissected: number;
  /** Dissecting processes it has had (more than one: replaced to bound memory, or after a crash). */
  processes: number;
  /** Of them, started in place of one grown past --worker-max-rss. */
  replacements: number;
  /** Its processes that died, with how. */
  crashes: string[];
}

export interface LiveStatus extends LiveStats {
  /** Packets dissected (and written to the output). */
  dissected: number;
  workers: WorkerStatus[];
}

export interface LiveRun {
  status: LiveStatus;
  counts: FileCounts;
  /** What each process's sink reported (for the output's report). */
  sinkReports: unknown[];
  interrupted: boolean;
}

/** One worker: the process dissecting its stream now, and a switch to a successor under way. */
interface Worker {
  index: number;
  current: DissectingProcess;
  switching?: { next: DissectingProcess; timer: NodeJS.Timeout };
  status: WorkerStatus;
}

export async function runLive(capture: LiveCapture, options: LiveRunOptions): Promise<LiveRun> {
  const status: LiveStatus = { ...capture.stats(), dissected: 0, workers: [] };
  const counts = noFileCounts();
  const workers: Worker[] = [];
  const workerOf = new Map<DissectingProcess, Worker>();
  let stopping = false;
  let failure: Error | undefined;

  /** Successors waiting to write until their predecessor has written everything (a worker's documents stay in capture order). */
  const successors = new Map<DissectingProcess, DissectingProcess>();

  /**
   * Starts dissecting a worker's stream until capture ends; then it flushes
   * and exits. A successor writes nothing before its predecessor is done ('go').
   */
  const giveStream = (worker: Worker, process: DissectingProcess, predecessor?: DissectingProcess) => {
    workerOf.set(process, worker);
    worker.status.processes++;
    const afterPredecessor = predecessor !== undefined && supervisor.processes.has(predecessor) && !predecessor.done;
    if (afterPredecessor) successors.set(predecessor, process);
    const live = { interfaceName: options.interfaceName, frameNotesFd: process.frameNotesFd!, afterPredecessor };
    process.send({ type: 'job', job: { path: '-', captureId: options.runId, skipRecords: 0, maxPackets: 0, live } });
    process.send({ type: 'finish' });
  };

  /** A process has written all it will (done, or gone): its successor may write. */
  const letSuccessorWrite = (process: DissectingProcess) => {
    const successor = successors.get(process);
    if (!successor) return;
    successors.delete(process);
    successor.send({ type: 'go' });
  };

  /**
   * The worker's stream goes to a fresh process from the next packet on;
   * `forMemory`: in place of one grown past --worker-max-rss (counted once
   * the stream has moved: a switch the end of capture cuts short is not).
   */
  const replace = (worker: Worker, forMemory: boolean) => {
    if (worker.switching || stopping) return;
    const next = supervisor.start();
    capture.switchTo(worker.index, next.stream!);
    const timer = setInterval(() => {
      if (capture.switchedAt(worker.index) < 0) return;
      clearInterval(timer);
      giveStream(worker, next, worker.current);
      worker.current = next;
      worker.switching = undefined;
      if (forMemory) worker.status.replacements++;
    }, 5);
    worker.switching = { next, timer };
  };

  /**
   * The capture ended (--count, an error) before a stream could move to a
   * successor: the stream it had ended with the capture, nothing is left for
   * the successor, which is stopped unused.
   */
  const abandonSwitches = () => {
    for (const worker of workers) {
      if (!worker.switching || capture.switchedAt(worker.index) >= 0) continue;
      clearInterval(worker.switching.timer);
      supervisor.abandon(worker.switching.next);
      worker.switching = undefined;
    }
  };

  const onMessage = (process: DissectingProcess, m: FromWorker) => {
    const worker = workerOf.get(process);
    switch (m.type) {
      case 'progress':
        status.dissected += m.packets;
        if (worker) worker.status.dissected += m.packets;
        break;
      case 'near-limit':
        if (worker?.current === process && !stopping) supervisor.prepareSpare();
        break;
      case 'over-limit':
        if (worker?.current === process) replace(worker, true);
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
    const worker = workerOf.get(process);
    if (!process.crashed || !worker) return;
    // A crash in a dissector: what it had not flushed is lost (and counted as
    // not indexed); the worker's stream goes on in a fresh process.
    worker.status.crashes.push(how);
    if (worker.current === process && !stopping) replace(worker, false);
  };

  function stop(): void {
    if (stopping) return;
    stopping = true;
    capture.stop();
    if (!workers.some((w) => w.switching)) supervisor.discardSpare();
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

  const refresh = () => {
    const stats = capture.stats();
    Object.assign(status, stats, { workers: status.workers });
    stats.workers.forEach((w, i) => Object.assign(status.workers[i], w));
    return stats;
  };

  await supervisor.watchingSignals(async () => {
    for (let index = 0; index < options.workers; index++) {
      const worker: Worker = {
        index,
        current: supervisor.start(),
        status: { captured: 0, written: 0, queueDrops: 0, queuedBytes: 0, dissected: 0, processes: 0, replacements: 0, crashes: [] },
      };
      workers.push(worker);
      status.workers.push(worker.status);
    }
    capture.start(workers.map((w) => w.current.stream!));
    for (const worker of workers) giveStream(worker, worker.current);
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const stats = refresh();
      options.onTick?.(status);
      if (stats.error) failure ??= new EspcapError(stats.error);
      if (stats.finished) {
        stopping = true; // --count reached, or the capture failed
        abandonSwitches(); // read after `finished`: no switch can happen any more
      }
      const switching = workers.some((w) => w.switching);
      if (stopping && !switching) supervisor.discardSpare();
      if (stopping && stats.finished && !switching && [...supervisor.processes].every((p) => p.discarded)) break;
    }
  });
  refresh();
  if (failure) throw failure;
  return { status, counts, sinkReports: supervisor.sinkReports, interrupted: supervisor.interrupted };
}
