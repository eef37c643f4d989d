// Starts and watches the dissecting processes (worker.ts), for the file pool
// (worker-pool.ts) and for live capture (live.ts) alike:
//
// - A process is forked with the run's dissect options and output spec; the
//   credentials it needs reach it over IPC with them, never in its arguments
//   or environment. It runs in a process group of its own, so that Ctrl-C at
//   a terminal reaches espcap alone, which stops its processes in order (and
//   a process just starting is not killed by it).
// - 'done' and 'fatal' are booked here; every message is then passed on.
// - A process that exits without either died: a crash in a dissector.
// - A spare can be started ahead of time (a process near its memory limit
//   asks for one), so that its successor has libwireshark ready.
// - The first Ctrl-C or SIGTERM is the caller's to handle (stop after the
//   current batch, flush); a second one kills every process and exits 130.
import { ChildProcess, fork } from 'node:child_process';
import * as path from 'node:path';
import { closeFd, makePipe } from '../engine/live-capture';
import { EspcapError, UsageError, warn } from '../errors';
import { OutputClosedError } from '../sink';
import type { OutputSpec } from '../outputs';
import type { StreamFds } from '../engine/live-capture';
import type { DissectOptions } from './dissect-file';
import type { FromWorker, ToWorker } from './worker';

const workerScript = path.join(__dirname, 'worker.js');

type FatalReport = Extract<FromWorker, { type: 'fatal' }>;

export class DissectingProcess {
  /** It said 'done': everything it wrote is flushed. */
  done = false;
  /** It reported why it must stop. */
  fatal: FatalReport | undefined;
  /** Stopped on purpose before it had work (a spare nobody needed). */
  discarded = false;
  readonly exited: Promise<string>;

  constructor(
    readonly child: ChildProcess,
    /**
     * For a process that reads a live stream: the write ends of the pipe to
     * its standard input (records) and of the pipe of their frame notes
     * (its descriptor `frameNotesFd`).
     */
    readonly stream?: StreamFds,
    readonly frameNotesFd?: number,
  ) {
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `exit code ${code}`)));
  }

  send(message: ToWorker): void {
    if (this.child.connected) this.child.send(message);
  }

  /** It ended without finishing and without saying why: it died. */
  get crashed(): boolean {
    return !this.done && !this.fatal && !this.discarded;
  }
}

export interface SupervisorOptions {
  dissect: DissectOptions;
  output: OutputSpec;
  /** Processes read a stream on their standard input (live capture) rather than files. */
  streams?: boolean;
  /** File descriptors every process inherits as 4, 5, ... (outputs opened before privileges were dropped). */
  inheritFds?: number[];
  /** Every message of a process, after the supervisor has booked it. */
  onMessage(dissector: DissectingProcess, message: FromWorker): void;
  /** A process exited (`how`: "exit code 0", "signal SIGKILL"). */
  onExit(dissector: DissectingProcess, how: string): void;
  /** The first Ctrl-C or SIGTERM. */
  onInterrupt(): void;
}

export class Supervisor {
  /** Processes not yet exited, spares included. */
  readonly processes = new Set<DissectingProcess>();
  /** What each process's sink reported when it finished (for the output's report). */
  readonly sinkReports: unknown[] = [];
  /** The first fatal report, as the error it stands for: the run ends with it. */
  failure: Error | undefined;
  interrupted = false;
  private spare: DissectingProcess | undefined;
  private wake: () => void = () => {};

  constructor(private readonly options: SupervisorOptions) {}

  /** A process put to work: the spare, if one is ready, or a fresh one. */
  start(): DissectingProcess {
    const dissector = this.spare ?? this.fork();
    this.spare = undefined;
    return dissector;
  }

  /** Starts a spare unless one is ready: it initialises libwireshark at once, before it has work. */
  prepareSpare(): void {
    this.spare ??= this.fork();
  }

  /** Stops a process put to work that was never given any. */
  abandon(dissector: DissectingProcess): void {
    if (dissector.discarded) return;
    dissector.discarded = true;
    dissector.child.kill('SIGKILL');
  }

  /** Stops the spare, if any: it had no work, so nothing is lost. */
  discardSpare(): void {
    const spare = this.spare;
    if (!spare) return;
    this.spare = undefined;
    spare.discarded = true;
    spare.child.kill('SIGKILL');
    if (spare.stream !== undefined) {
      closeFd(spare.stream.records);
      closeFd(spare.stream.frames);
    }
  }

  /** Resolves at the next message or exit of any process, or signal. */
  changed(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }

  /** Every process at work (not the spare): SIGTERM asks it to stop after its current batch and flush. */
  signalAll(signal: NodeJS.Signals): void {
    for (const p of this.processes) if (p !== this.spare && !p.discarded) p.child.kill(signal);
  }

  /** Runs `body` with Ctrl-C and SIGTERM handled (see the top of this file). */
  async watchingSignals<T>(body: () => Promise<T>): Promise<T> {
    const onSignal = () => {
      if (this.interrupted) {
        for (const p of this.processes) p.child.kill('SIGKILL');
        warn('interrupted twice: stopped without flushing');
        process.exit(130);
      }
      this.interrupted = true;
      this.options.onInterrupt();
      this.wake();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      return await body();
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      this.discardSpare(); // started for work that did not come
    }
  }

  private fork(): DissectingProcess {
    const inherited = this.options.inheritFds ?? [];
    let stdin: 'ignore' | number = 'ignore';
    let stream: StreamFds | undefined;
    let notes: number[] = [];
    if (this.options.streams) {
      const [records, recordsEnd] = makePipe();
      const [frames, framesEnd] = makePipe();
      stdin = records;
      notes = [frames];
      stream = { records: recordsEnd, frames: framesEnd };
    }
    const { ESPCAP_PASSWORD, ESPCAP_API_KEY, ...env } = process.env;
    const child = fork(workerScript, [], { stdio: [stdin, 'inherit', 'inherit', 'ipc', ...inherited, ...notes], env, detached: true });
    // The child has its own copies.
    if (typeof stdin === 'number') closeFd(stdin);
    for (const fd of notes) closeFd(fd);
    child.on('error', () => {}); // an exit follows
    child.send({ type: 'setup', options: this.options.dissect, output: this.options.output } satisfies ToWorker);
    const p = new DissectingProcess(child, stream, stream ? 4 + inherited.length : undefined);
    this.processes.add(p);
    child.on('message', (m: FromWorker) => {
      if (m.type === 'done') {
        p.done = true;
        this.sinkReports.push(m.sinkReport);
      } else if (m.type === 'fatal') {
        p.fatal = m;
        this.failure ??= fatalError(m);
      }
      this.options.onMessage(p, m);
      this.wake();
    });
    void p.exited.then((how) => {
      this.processes.delete(p);
      if (p === this.spare) this.spare = undefined; // died before it was needed: not used
      this.options.onExit(p, how);
      this.wake();
    });
    return p;
  }
}

/** The error a dissecting process's fatal report stands for. */
function fatalError(m: FatalReport): Error {
  return m.outputClosed ? new OutputClosedError(m.message) : m.usage ? new UsageError(m.message) : new EspcapError(m.message);
}
