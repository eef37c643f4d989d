// Live capture: this process captures (libpcap, on the addon's threads) and
// writes a pcap stream into a pipe; a dissecting process reads the stream on
// its standard input, dissects it and writes the documents (as for files).
//
// A dissecting process past --worker-max-rss is replaced while capture goes
// on: a successor, started ahead of time on a pipe of its own, gets the
// stream from the next packet on (the switch happens between two whole
// packets); the old process reads to the end of its stream, flushes and
// exits. Packets arriving meanwhile wait in the capture queue, so the
// hand-over loses nothing. Frame numbers (and so document ids) continue
// across the streams.
import { ChildProcess } from 'node:child_process';
import { closeFd, LiveCapture, LiveStats, makePipe } from '../engine/live-capture';
import { EspcapError } from '../errors';
import { addFileCounts, FileCounts, noFileCounts } from '../sinks/sink';
import type { IndexCounts } from '../elasticsearch/bulk-sink';
import { DissectOptions } from './dissect-file';
import { FromWorker, OutputSpec, ToWorker } from './worker';
import { addIndexCounts, exitOf, fatalError, spawnWorker } from './worker-pool';

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
  indexCounts: Pick<IndexCounts, 'retries' | 'unmappedFields'>;
  /** Dissecting processes started (more than one: replaced to bound memory, or after a crash). */
  processes: number;
  interrupted: boolean;
  /** Dissecting processes that died, with how. */
  crashes: string[];
}

class Segment {
  done = false;
  /** A spare killed unused. */
  discarded = false;
  fatal: Extract<FromWorker, { type: 'fatal' }> | undefined;
  readonly exited: Promise<string>;

  constructor(
    readonly child: ChildProcess,
    /** The write end of its pipe, until the capture takes it. */
    readonly streamFd: number,
  ) {
    this.exited = exitOf(child);
  }
}

export async function runLive(capture: LiveCapture, options: LiveRunOptions): Promise<LiveRun> {
  const run: LiveRun = {
    status: { ...capture.stats(), dissected: 0 },
    counts: noFileCounts(),
    indexCounts: { retries: 0, unmappedFields: 0 },
    processes: 0,
    interrupted: false,
    crashes: [],
  };
  const segments = new Set<Segment>();
  let current: Segment;
  let spare: Segment | undefined;
  let switching = false;
  let failure: Error | undefined;
  let stopping = false;

  const startSegment = (): Segment => {
    const [readFd, writeFd] = makePipe();
    const child = spawnWorker({ dissect: options.dissect, output: options.output }, readFd, options.inheritFds);
    closeFd(readFd); // the child has its own copy as standard input
    const segment = new Segment(child, writeFd);
    child.on('error', () => {}); // an exit follows
    segments.add(segment);
    child.on('message', (m: FromWorker) => onMessage(segment, m));
    void segment.exited.then((how) => onExit(segment, how));
    return segment;
  };

  const giveStream = (segment: Segment, frameOffset: number) => {
    run.processes++;
    const job: ToWorker = {
      type: 'job',
      job: { path: '-', captureId: options.runId, skipRecords: 0, maxPackets: 0, live: { interfaceName: options.interfaceName, frameOffset } },
    };
    segment.child.send(job);
    // Its stream ends when capture ends; then it flushes and exits.
    segment.child.send({ type: 'finish' } satisfies ToWorker);
  };

  /** The stream goes to a fresh process from the next packet on. */
  const replace = () => {
    if (switching || stopping) return;
    switching = true;
    const next = spare ?? startSegment();
    spare = undefined;
    capture.switchTo(next.streamFd);
    const waitForSwitch = setInterval(() => {
      const at = capture.switchedAt();
      if (at < 0) return;
      clearInterval(waitForSwitch);
      giveStream(next, at);
      current = next;
      switching = false;
    }, 5);
  };

  const onMessage = (segment: Segment, m: FromWorker) => {
    switch (m.type) {
      case 'progress':
        run.status.dissected += m.packets;
        break;
      case 'near-limit':
        if (!spare && segment === current && !stopping) spare = startSegment();
        break;
      case 'over-limit':
        if (segment === current) replace();
        break;
      case 'read':
        if (m.result.error) failure ??= new EspcapError(`reading the capture stream failed: ${m.result.error.message}`);
        break;
      case 'settled':
        addFileCounts(run.counts, m.counts);
        break;
      case 'done':
        segment.done = true;
        if (m.indexCounts) addIndexCounts(run.indexCounts, m.indexCounts);
        break;
      case 'fatal':
        segment.fatal = m;
        failure ??= fatalError(m);
        stop();
        break;
    }
  };

  const onExit = (segment: Segment, how: string) => {
    segments.delete(segment);
    if (segment === spare) spare = undefined;
    if (!segment.done && !segment.fatal && !segment.discarded) {
      // A crash in a dissector: what it had not flushed is lost (and counted as
      // not indexed); the stream goes on in a fresh process.
      run.crashes.push(how);
      if (segment === current && !stopping) replace();
    }
  };

  const discardSpare = () => {
    if (!spare) return;
    spare.discarded = true;
    spare.child.kill('SIGKILL');
    closeFd(spare.streamFd);
    spare = undefined;
  };

  function stop(): void {
    if (stopping) return;
    stopping = true;
    capture.stop();
    if (!switching) discardSpare();
  }

  // Ctrl-C or SIGTERM: stop capturing, dissect and write what was captured,
  // flush, report. A second one gives up at once.
  const onSignal = () => {
    if (run.interrupted) {
      for (const s of segments) s.child.kill('SIGKILL');
      process.stderr.write('espcap: interrupted twice: stopped without flushing\n');
      process.exit(130);
    }
    run.interrupted = true;
    stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  current = startSegment();
  capture.start(current.streamFd);
  giveStream(current, 0);
  try {
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const stats = capture.stats();
      Object.assign(run.status, stats);
      options.onTick?.(run.status);
      if (stats.error) failure ??= new EspcapError(stats.error);
      if (stats.finished) stopping = true; // --count reached, or the capture failed
      if (stopping && !switching) discardSpare();
      if (stopping && stats.finished && !switching && [...segments].every((s) => s.discarded)) break;
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  Object.assign(run.status, capture.stats());
  if (failure) throw failure;
  return run;
}
