// Runs the dissection in child processes: `workers` at once, each taking whole
// files from one queue (largest first, so a run does not end waiting on one
// big file), each with its own epan session and its own output connection.
//
// A process is replaced once it has grown (libwireshark 4.0 leaks ~10 MB per
// session reset and its per-capture state grows with traffic; only a fresh
// process gives memory back): it stops after a batch, the rest of its file goes
// back to the front of the queue, a successor started ahead of time takes over,
// and the old process flushes its documents and exits.
//
// A file is done when it was read to its end and every one of its documents is
// settled (stored or dead-lettered); `onFileDone` then reports it (the caller
// records it for resuming). If a process dies, the file it was reading failed;
// files it had read but not yet settled go back into the queue.
import { ChildProcess, fork } from 'node:child_process';
import * as path from 'node:path';
import { DissectOptions, FileJob, PartResult } from './dissect-file';
import { FromWorker, OutputSpec, ToWorker } from './worker';
import { EspcapError, UsageError } from '../errors';
import { addFileCounts, FileCounts, noFileCounts, OutputClosedError } from '../sinks/sink';
import type { IndexCounts } from '../elasticsearch/bulk-sink';

export interface PoolFile {
  path: string;
  /** Bytes, for ordering and progress. */
  size: number;
  captureId?: string;
}

export interface FileOutcome extends PoolFile {
  /** Packets read (and written) from this file. */
  packets: number;
  /** The last record read. */
  records: number;
  /** Some of it was read (files not reached before --count or Ctrl-C were not). */
  started: boolean;
  counts: FileCounts;
  notCapture?: boolean;
  error?: { code: string; message: string };
}

export interface PoolRun {
  files: FileOutcome[];
  limitReached: boolean;
  interrupted: boolean;
  /** Dissecting processes started. */
  processes: number;
  /** Bulk retries and unmapped fields, summed over the processes (indexing only). */
  indexCounts?: Pick<IndexCounts, 'retries' | 'unmappedFields'>;
}

export interface PoolOptions {
  workers: number;
  dissect: DissectOptions;
  output: OutputSpec;
  /** Packets wanted in total (--count; needs one worker); 0 for no limit. */
  maxPackets: number;
  /** Packets and file bytes read since the last call. */
  onProgress?(packets: number, bytes: number): void;
  /** A file was read to its end, or failed. */
  onFileRead?(file: FileOutcome): void;
  onFileDone?(file: FileOutcome): void;
}

const workerScript = path.join(__dirname, 'worker.js');

/**
 * Starts a dissecting process. It initialises libwireshark at once, before
 * it has work: a successor started ahead of time takes over without delay.
 */
/** How a child process ended, once it has: "exit code 0", "signal SIGKILL". */
export function exitOf(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `exit code ${code}`)));
}

/** Sums what the dissecting processes report of their bulk requests. */
export function addIndexCounts(total: Pick<IndexCounts, 'retries' | 'unmappedFields'>, add: IndexCounts): void {
  total.retries += add.retries;
  total.unmappedFields = Math.max(total.unmappedFields, add.unmappedFields);
}

/** The error a dissecting process's fatal report stands for. */
export function fatalError(m: Extract<FromWorker, { type: 'fatal' }>): Error {
  return m.outputClosed ? new OutputClosedError(m.message) : m.usage ? new UsageError(m.message) : new EspcapError(m.message);
}

export function spawnWorker(options: Pick<PoolOptions, 'dissect' | 'output'>, stdin: 'ignore' | number = 'ignore', extraFds: number[] = []): ChildProcess {
  // Credentials reach the process over IPC with its work, not in its environment.
  const { ESPCAP_PASSWORD, ESPCAP_API_KEY, ...env } = process.env;
  // Its own process group: Ctrl-C at a terminal reaches espcap alone, which
  // stops its dissecting processes in order (and a process just starting is
  // not killed by it).
  const child = fork(workerScript, [], { stdio: [stdin, 'inherit', 'inherit', 'ipc', ...extraFds], env, detached: true });
  child.send({ type: 'setup', options: options.dissect, output: options.output } satisfies ToWorker);
  return child;
}

/** Per file: parts being read or not yet settled, and whether its end was read. */
interface FileProgress {
  openParts: number;
  readToEnd: boolean;
  /** Bytes of the file reported as read. */
  position: number;
}

/** A part of a file read by a process whose documents are not all settled yet. */
interface OpenPart {
  file: FileOutcome;
  result: PartResult;
}

class Worker {
  /** The part being read. */
  job: FileJob | undefined;
  /** Parts read, documents still in flight. */
  readonly unsettled = new Map<string, OpenPart>();
  done = false; // said 'done'
  fatal: Extract<FromWorker, { type: 'fatal' }> | undefined;
  readonly exited: Promise<string>;

  constructor(readonly child: ChildProcess) {
    this.exited = exitOf(child);
  }

  send(message: ToWorker): void {
    if (this.child.connected) this.child.send(message);
  }
}

function partKey(path: string, skipRecords: number): string {
  return `${skipRecords}:${path}`;
}

export async function runPool(files: PoolFile[], options: PoolOptions): Promise<PoolRun> {
  const outcomes = new Map<string, FileOutcome>(
    files.map((f) => [f.path, { ...f, packets: 0, records: 0, started: false, counts: noFileCounts() }]),
  );
  const run: PoolRun = { files: [...outcomes.values()], limitReached: false, interrupted: false, processes: 0 };
  const queue: FileJob[] = files.map((f) => ({ path: f.path, captureId: f.captureId, skipRecords: 0, maxPackets: 0 }));
  // One worker keeps the given order (output in file order, --count takes the first packets).
  if (options.workers > 1) queue.sort((a, b) => outcomes.get(b.path)!.size - outcomes.get(a.path)!.size);
  const progress = new Map<string, FileProgress>(files.map((f) => [f.path, { openParts: 0, readToEnd: false, position: 0 }]));
  let written = 0;
  let failure: Error | undefined;
  const running = new Set<Worker>();
  let successor: ChildProcess | undefined;
  const stopping = () => run.interrupted || run.limitReached || failure !== undefined;

  let wakeMain: () => void = () => {};
  const changed = () => wakeMain();

  const giveWork = (worker: Worker) => {
    const job = stopping() ? undefined : queue.shift();
    if (!job) {
      worker.send({ type: 'finish' });
      return;
    }
    if (options.maxPackets) job.maxPackets = options.maxPackets - written;
    worker.job = job;
    progress.get(job.path)!.openParts++;
    worker.send({ type: 'job', job });
  };

  /** A file is read (or failed): the rest of its bytes count as done. */
  const fileRead = (file: FileOutcome) => {
    const p = progress.get(file.path)!;
    options.onProgress?.(0, file.size - p.position);
    p.position = file.size;
    options.onFileRead?.(file);
  };

  const settle = (worker: Worker, path: string, skipRecords: number, counts: FileCounts) => {
    const key = partKey(path, skipRecords);
    const part = worker.unsettled.get(key);
    if (!part) return;
    worker.unsettled.delete(key);
    const file = part.file;
    addFileCounts(file.counts, counts);
    const p = progress.get(path)!;
    p.openParts--;
    if (p.readToEnd && p.openParts === 0 && !file.error) options.onFileDone?.(file);
  };

  const onMessage = (worker: Worker, m: FromWorker) => {
    switch (m.type) {
      case 'progress': {
        const p = progress.get(m.path)!;
        const bytes = Math.max(0, Math.min(m.position, outcomes.get(m.path)!.size) - p.position);
        p.position += bytes;
        options.onProgress?.(m.packets, bytes);
        break;
      }
      case 'near-limit':
        if (!successor) {
          const spare = (successor = spawnWorker(options));
          // A spare that dies before it is needed is simply not used.
          spare.on('exit', () => successor === spare && (successor = undefined));
        }
        break;
      case 'read': {
        const r = m.result;
        const file = outcomes.get(r.path)!;
        worker.job = undefined;
        file.started = true;
        file.packets += r.packets;
        file.records = r.records;
        written += r.packets;
        if (r.error) file.error = r.error;
        if (r.complete) progress.get(r.path)!.readToEnd = true;
        if (r.notCapture) file.notCapture = true;
        worker.unsettled.set(partKey(r.path, r.skipRecords), { file, result: r });
        if (r.interrupted) run.interrupted = true;
        if (r.limitReached || (options.maxPackets && written >= options.maxPackets)) run.limitReached = true;
        if (r.complete || r.error) fileRead(file);
        if (r.recycle) {
          // The rest of the file goes first, to the successor; this process flushes and exits.
          queue.unshift({ path: r.path, captureId: file.captureId, skipRecords: r.records, maxPackets: 0 });
          startWorker();
        } else if (!r.interrupted && !r.limitReached) {
          giveWork(worker); // or tell it to finish, if the run is stopping
        }
        break;
      }
      case 'settled':
        settle(worker, m.path, m.skipRecords, m.counts);
        break;
      case 'done':
        worker.done = true;
        if (m.indexCounts) addIndexCounts((run.indexCounts ??= { retries: 0, unmappedFields: 0 }), m.indexCounts);
        break;
      case 'fatal':
        worker.fatal = m;
        failure ??= fatalError(m);
        // The others stop after their current batch and flush what they read.
        for (const w of running) if (w !== worker) w.child.kill('SIGTERM');
        break;
    }
    changed();
  };

  const onExit = (worker: Worker, exit: string) => {
    running.delete(worker);
    if (!worker.done && !worker.fatal) {
      // The process died (a crash inside a dissector): the file it was reading
      // failed; what it had read but not flushed is read again by another.
      if (worker.job) {
        const file = outcomes.get(worker.job.path)!;
        file.started = true;
        file.error = { code: 'CRASH', message: `the dissecting process died (${exit})` };
        progress.get(file.path)!.openParts--;
        fileRead(file);
      }
      for (const { file, result } of worker.unsettled.values()) {
        progress.get(file.path)!.openParts--;
        file.packets -= result.packets;
        written -= result.packets;
        if (result.complete) {
          progress.get(file.path)!.readToEnd = false;
          queue.unshift({ path: file.path, captureId: file.captureId, skipRecords: result.skipRecords, maxPackets: 0 });
        } else file.error ??= { code: 'CRASH', message: `the dissecting process died while writing its documents (${exit})` };
      }
      worker.unsettled.clear();
      if (queue.length && !stopping()) startWorker();
    }
    changed();
  };

  const startWorker = () => {
    const child = successor ?? spawnWorker(options);
    successor = undefined;
    run.processes++;
    const worker = new Worker(child);
    running.add(worker);
    child.on('message', (m: FromWorker) => onMessage(worker, m));
    void worker.exited.then((exit) => onExit(worker, exit));
    giveWork(worker);
  };

  // Ctrl-C or SIGTERM: the workers (in process groups of their own) are told
  // to stop after their current batch and flush. A second one gives up at once.
  const onSignal = () => {
    if (run.interrupted) {
      for (const w of running) w.child.kill('SIGKILL');
      successor?.kill('SIGKILL');
      process.stderr.write('espcap: interrupted twice: stopped without flushing\n');
      process.exit(130);
    }
    run.interrupted = true;
    for (const w of running) w.child.kill('SIGTERM');
    changed();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    for (let i = 0; i < Math.min(options.workers, queue.length); i++) startWorker();
    while (running.size) await new Promise<void>((resolve) => (wakeMain = resolve));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    successor?.kill('SIGKILL'); // started for work that did not come: nothing to lose
  }
  if (failure) throw failure;
  return run;
}
