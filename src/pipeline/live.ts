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
import * as fs from 'node:fs';
import { LiveCapture, LiveStats, LiveWorkerStats, openLive } from '../engine/live-capture';
import { EspcapError } from '../errors';
import type { OutputSpec } from '../outputs';
import type { PreparedOutput } from '../outputs/output';
import { addFileCounts, FileCounts, noFileCounts } from '../sink';
import { DissectOptions } from './dissect-file';
import { DissectingProcess, Supervisor } from './supervisor';
import { Account, dropPrivileges, lookUpUser } from './privileges';
import type { FromWorker } from './worker';

/** What a live capture is asked to do (from --nic and its flags). */
export interface LiveSettings {
  interfaceName: string;
  /** Benchmarks only: packets come from this capture file as fast as the dissecting processes take them. */
  testSource?: string;
  bpf?: string;
  snaplen: number;
  promisc: boolean;
  bufferBytes: number;
  /** Stop after this many packets; 0 never. */
  maxPackets: number;
  /** When started as root: the account (name or uid) packets are dissected as. */
  user: string;
  /** Dissecting processes the packets are spread over, each with its own share of flows. */
  workers: number;
  dissect: DissectOptions;
  /** Identity of this capture run: documents are `<runId>-<frame number>`. */
  runId: string;
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

export interface LiveResult {
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


/**
 * One live capture: opened (with privileges, if any) by open(), then run()
 * until --count, an error, or Ctrl-C/SIGTERM.
 */
export class LiveRun {
  /**
   * The privileged set-up: the account looked up, the interface opened, the
   * files the dissecting processes write opened (and handed down as
   * descriptors 4, 5, ...: the unprivileged user may not reach their
   * directory), then root given up.
   */
  static open(settings: LiveSettings, output: PreparedOutput<OutputSpec>): LiveRun {
    const account = process.getuid!() === 0 ? lookUpUser(settings.user) : undefined;
    const capture = openLive({
      interface: settings.interfaceName,
      ...(settings.testSource ? { sourceFile: settings.testSource } : {}),
      bpf: settings.bpf,
      snaplen: settings.snaplen,
      promisc: settings.promisc,
      bufferBytes: settings.bufferBytes,
      queueBytes: 64 * 1024 * 1024,
      maxPackets: settings.maxPackets,
    });
    const fds: number[] = [];
    let spec: OutputSpec;
    try {
      spec = output.handDown((file, flags) => {
        let fd: number;
        try {
          fd = fs.openSync(file, flags);
        } catch (err) {
          throw new EspcapError(`cannot open ${file}: ${(err as Error).message}`);
        }
        // Only a file espcap writes becomes the unprivileged user's (never /dev/null and the like).
        if (account && fs.fstatSync(fd).isFile()) fs.fchownSync(fd, account.uid, account.gid);
        fds.push(fd);
        return `/dev/fd/${3 + fds.length}`;
      });
      if (account) dropPrivileges(account);
    } catch (err) {
      for (const fd of fds) fs.closeSync(fd);
      throw err;
    }
    return new LiveRun(settings, capture, spec, fds, account);
  }

  /** Dissecting processes: one when the link type's flows cannot be told apart (spread packet by packet, TCP reassembly would break). */
  readonly workerCount: number;
  readonly status: LiveStatus;
  private readonly counts = noFileCounts();
  private readonly workers: Worker[] = [];
  private readonly workerOf = new Map<DissectingProcess, Worker>();
  /** Successors waiting to write until their predecessor has written everything (a worker's documents stay in capture order). */
  private readonly successors = new Map<DissectingProcess, DissectingProcess>();
  private readonly supervisor: Supervisor;
  private stopping = false;
  private failure: Error | undefined;

  private constructor(
    private readonly settings: LiveSettings,
    readonly capture: LiveCapture,
    output: OutputSpec,
    private readonly fds: number[],
    /** The account packets are dissected as, when started as root. */
    readonly account: Account | undefined,
  ) {
    this.workerCount = capture.flowsKnown ? settings.workers : 1;
    this.status = { ...capture.stats(), dissected: 0, workers: [] };
    // Ctrl-C or SIGTERM: stop capturing, dissect and write what was captured, flush, report.
    this.supervisor = new Supervisor({
      dissect: settings.dissect,
      output,
      streams: true,
      inheritFds: fds,
      onMessage: (dissector, m) => this.onMessage(dissector, m),
      onExit: (dissector, how) => this.onExit(dissector, how),
      onInterrupt: () => this.stop(),
    });
  }

  /** Captures and dissects until the capture ends; `onTick` every 250 ms with what was done so far. */
  async run(onTick?: (status: LiveStatus) => void): Promise<LiveResult> {
    const { capture, supervisor, workers } = this;
    try {
      await supervisor.watchingSignals(async () => {
        for (let index = 0; index < this.workerCount; index++) {
          const worker: Worker = {
            index,
            current: supervisor.start(),
            status: { captured: 0, written: 0, queueDrops: 0, queuedBytes: 0, dissected: 0, processes: 0, replacements: 0, crashes: [] },
          };
          workers.push(worker);
          this.status.workers.push(worker.status);
        }
        capture.start(workers.map((w) => w.current.stream!));
        for (const worker of workers) this.giveStream(worker, worker.current);
        for (;;) {
          await new Promise((resolve) => setTimeout(resolve, 250));
          const stats = this.refresh();
          onTick?.(this.status);
          if (stats.error) this.failure ??= new EspcapError(stats.error);
          if (stats.finished) {
            this.stopping = true; // --count reached, or the capture failed
            this.abandonSwitches(); // read after `finished`: no switch can happen any more
          }
          const switching = workers.some((w) => w.switching);
          if (this.stopping && !switching) supervisor.discardSpare();
          if (this.stopping && stats.finished && !switching && [...supervisor.processes].every((p) => p.discarded)) break;
        }
      });
    } finally {
      for (const fd of this.fds) fs.closeSync(fd);
    }
    this.refresh();
    if (this.failure) throw this.failure;
    return { status: this.status, counts: this.counts, sinkReports: supervisor.sinkReports, interrupted: supervisor.interrupted };
  }

  /**
   * Starts dissecting a worker's stream until capture ends; then it flushes
   * and exits. A successor writes nothing before its predecessor is done ('go').
   */
  private giveStream(worker: Worker, dissector: DissectingProcess, predecessor?: DissectingProcess): void {
    this.workerOf.set(dissector, worker);
    worker.status.processes++;
    const afterPredecessor = predecessor !== undefined && this.supervisor.processes.has(predecessor) && !predecessor.done;
    if (afterPredecessor) this.successors.set(predecessor, dissector);
    const live = { interfaceName: this.settings.interfaceName, frameNotesFd: dissector.frameNotesFd!, afterPredecessor };
    dissector.send({ type: 'job', job: { path: '-', captureId: this.settings.runId, skipRecords: 0, maxPackets: 0, live } });
    dissector.send({ type: 'finish' });
  }

  /** A process has written all it will (done, or gone): its successor may write. */
  private letSuccessorWrite(dissector: DissectingProcess): void {
    const successor = this.successors.get(dissector);
    if (!successor) return;
    this.successors.delete(dissector);
    successor.send({ type: 'go' });
  }

  /**
   * The worker's stream goes to a fresh process from the next packet on;
   * `forMemory`: in place of one grown past --worker-max-rss (counted once
   * the stream has moved: a switch the end of capture cuts short is not).
   */
  private replace(worker: Worker, forMemory: boolean): void {
    if (worker.switching || this.stopping) return;
    const next = this.supervisor.start();
    this.capture.switchTo(worker.index, next.stream!);
    const timer = setInterval(() => {
      if (this.capture.switchedAt(worker.index) < 0) return;
      clearInterval(timer);
      this.giveStream(worker, next, worker.current);
      worker.current = next;
      worker.switching = undefined;
      if (forMemory) worker.status.replacements++;
    }, 5);
    worker.switching = { next, timer };
  }

  /**
   * The capture ended (--count, an error) before a stream could move to a
   * successor: the stream it had ended with the capture, nothing is left for
   * the successor, which is stopped unused.
   */
  private abandonSwitches(): void {
    for (const worker of this.workers) {
      if (!worker.switching || this.capture.switchedAt(worker.index) >= 0) continue;
      clearInterval(worker.switching.timer);
      this.supervisor.abandon(worker.switching.next);
      worker.switching = undefined;
    }
  }

  private onMessage(dissector: DissectingProcess, m: FromWorker): void {
    const worker = this.workerOf.get(dissector);
    switch (m.type) {
      case 'progress':
        this.status.dissected += m.packets;
        if (worker) worker.status.dissected += m.packets;
        break;
      case 'near-limit':
        if (worker?.current === dissector && !this.stopping) this.supervisor.prepareSpare();
        break;
      case 'over-limit':
        if (worker?.current === dissector) this.replace(worker, true);
        break;
      case 'read':
        if (m.result.error) this.failure ??= new EspcapError(`reading the capture stream failed: ${m.result.error.message}`);
        break;
      case 'settled':
        addFileCounts(this.counts, m.counts);
        break;
      case 'done':
        this.letSuccessorWrite(dissector);
        break;
      case 'fatal':
        this.letSuccessorWrite(dissector);
        this.failure ??= this.supervisor.failure;
        this.stop();
        break;
    }
  }

  private onExit(dissector: DissectingProcess, how: string): void {
    this.letSuccessorWrite(dissector);
    const worker = this.workerOf.get(dissector);
    if (!dissector.crashed || !worker) return;
    // A crash in a dissector: what it had not flushed is lost (and counted as
    // not indexed); the worker's stream goes on in a fresh process.
    worker.status.crashes.push(how);
    if (worker.current === dissector && !this.stopping) this.replace(worker, false);
  }

  private stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.capture.stop();
    if (!this.workers.some((w) => w.switching)) this.supervisor.discardSpare();
  }

  private refresh(): LiveStats {
    const stats = this.capture.stats();
    Object.assign(this.status, stats, { workers: this.status.workers });
    stats.workers.forEach((w, i) => Object.assign(this.status.workers[i], w));
    return stats;
  }
}
