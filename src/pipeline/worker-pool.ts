// Runs the dissection of capture files in child processes: `workers` at once,
// each taking whole files from one queue (largest first, so a run does not
// end waiting on one big file), each with its own epan session and its own
// output connection. supervisor.ts starts and watches the processes.
//
// A process is replaced once it has grown (libwireshark 4.0 leaks ~10 MB per
// session reset and its per-capture state grows with traffic; only a fresh
// process gives memory back): it stops after a batch, the rest of its file goes
// back to the front of the queue, a spare started ahead of time takes over,
// and the old process flushes its documents and exits.
//
// A file is done when it was read to its end and every one of its documents is
// settled (stored or dead-lettered); `onFileDone` then reports it (the output
// records it for resuming). If a process dies, the file it was reading failed;
// files it had read but not yet settled go back into the queue.
//
// With `claims` (an output other espcap processes share), a file is claimed
// before it is read: one done elsewhere is left out, one another process
// reads now is asked about again later, until it is done (or its claim
// expires and it becomes ours). A file that fails is released.
import type { OutputSpec } from '../outputs';
import type { FileClaims } from '../outputs/output';
import { addFileCounts, FileCounts, noFileCounts } from '../outputs/sink';
import { DissectOptions, FileJob, PartResult } from './dissect-file';
import { DissectingProcess, Supervisor } from './supervisor';
import type { FromWorker } from './worker';

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
  /** Read by another process sharing the output (see FileClaims). */
  doneElsewhere?: boolean;
  error?: { code: string; message: string };
}

export interface PoolRun {
  files: FileOutcome[];
  limitReached: boolean;
  interrupted: boolean;
  /** Dissecting processes put to work. */
  processes: number;
  /** What each process's sink reported (for the output's report). */
  sinkReports: unknown[];
}

export interface PoolOptions {
  workers: number;
  dissect: DissectOptions;
  output: OutputSpec;
  /** Packets wanted in total (--count; needs one worker); 0 for no limit. */
  maxPackets: number;
  /** Files shared with other espcap processes: claim each before reading it. */
  claims?: FileClaims;
  /** Packets and file bytes read since the last call. */
  onProgress?(packets: number, bytes: number): void;
  /** A file was read to its end, or failed. */
  onFileRead?(file: FileOutcome): void;
  onFileDone?(file: FileOutcome): void;
}

/** A part of a file read by a process whose documents are not all settled yet. */
interface OpenPart {
  file: FileOutcome;
  result: PartResult;
}

/** What the pool knows of a process it put to work. */
interface Worker {
  /** The part being read. */
  job: FileJob | undefined;
  /** Parts read, documents still in flight, by partKey(). */
  readonly unsettled: Map<string, OpenPart>;
}

/** Per file: parts being read or not yet settled, whether its end was read, and the bytes reported as read. */
interface FileProgress {
  openParts: number;
  readToEnd: boolean;
  position: number;
}

function partKey(path: string, skipRecords: number): string {
  return `${skipRecords}:${path}`;
}

class FilePool {
  private readonly outcomes: Map<string, FileOutcome>;
  private readonly progress: Map<string, FileProgress>;
  private readonly queue: FileJob[];
  /** Files another process is reading now: asked about again once the queue is empty. */
  private readonly heldElsewhere: FileJob[] = [];
  /** Files this process claimed (see FileClaims). */
  private readonly ours = new Set<string>();
  private readonly workers = new Map<DissectingProcess, Worker>();
  private readonly supervisor: Supervisor;
  private limitReached = false;
  /** Packets written so far, for --count. */
  private written = 0;

  constructor(
    files: PoolFile[],
    private readonly options: PoolOptions,
  ) {
    this.outcomes = new Map(files.map((f) => [f.path, { ...f, packets: 0, records: 0, started: false, counts: noFileCounts() }]));
    this.progress = new Map(files.map((f) => [f.path, { openParts: 0, readToEnd: false, position: 0 }]));
    this.queue = files.map((f) => ({ path: f.path, captureId: f.captureId, skipRecords: 0, maxPackets: 0 }));
    // One worker keeps the given order (output in file order, --count takes the first packets).
    if (options.workers > 1) this.queue.sort((a, b) => this.outcomes.get(b.path)!.size - this.outcomes.get(a.path)!.size);
    this.supervisor = new Supervisor({
      dissect: options.dissect,
      output: options.output,
      onMessage: (p, m) => this.onMessage(p, m),
      onExit: (p, how) => this.onExit(p, how),
      // The workers (in process groups of their own) stop after their current batch and flush.
      onInterrupt: () => this.supervisor.signalAll('SIGTERM'),
    });
  }

  async run(): Promise<PoolRun> {
    await this.supervisor.watchingSignals(async () => {
      for (let i = 0; i < Math.min(this.options.workers, this.queue.length); i++) this.startWorker();
      while (this.workers.size) await this.supervisor.changed();
    });
    if (this.supervisor.failure) throw this.supervisor.failure;
    return {
      files: [...this.outcomes.values()],
      limitReached: this.limitReached,
      interrupted: this.supervisor.interrupted,
      processes: this.supervisor.used,
      sinkReports: this.supervisor.sinkReports,
    };
  }

  /** Whether the run is ending: interrupted, --count reached, or failed. */
  private stopping(): boolean {
    return this.supervisor.interrupted || this.limitReached || this.supervisor.failure !== undefined;
  }

  private startWorker(): void {
    const process = this.supervisor.start();
    this.workers.set(process, { job: undefined, unsettled: new Map() });
    void this.giveWork(process);
  }

  /**
   * The next part from the queue, or, when there is none or the run is
   * stopping, the word to finish. Files other processes are reading are
   * waited for, and asked about again.
   */
  private async giveWork(process: DissectingProcess): Promise<void> {
    for (;;) {
      const job = this.stopping() ? undefined : this.queue.shift();
      if (!job) {
        if (this.stopping() || !this.heldElsewhere.length) break;
        await this.pause(this.options.claims!.retryMs);
        this.queue.push(...this.heldElsewhere.splice(0));
        continue;
      }
      if (!(await this.claimed(job))) continue;
      const worker = this.workers.get(process);
      if (!worker) {
        // The process died while the claim was out: the file waits for another.
        this.queue.unshift(job);
        if (!this.stopping() && this.workers.size < this.options.workers) this.startWorker();
        return;
      }
      if (this.options.maxPackets) job.maxPackets = this.options.maxPackets - this.written;
      worker.job = job;
      this.progress.get(job.path)!.openParts++;
      process.send({ type: 'job', job });
      return;
    }
    process.send({ type: 'finish' });
  }

  /** Whether this process may read the file now (see FileClaims); if not, the file is done elsewhere or waits. */
  private async claimed(job: FileJob): Promise<boolean> {
    const claims = this.options.claims;
    if (!claims || !job.captureId || this.ours.has(job.path)) return true;
    const file = this.outcomes.get(job.path)!;
    let verdict;
    try {
      verdict = await claims.claim({ captureId: job.captureId, path: job.path, size: file.size });
    } catch (err) {
      this.supervisor.failure ??= err as Error;
      this.supervisor.signalAll('SIGTERM'); // the others stop after their current batch and flush
      return false;
    }
    if (verdict === 'held') this.heldElsewhere.push(job);
    else if (verdict === 'done') {
      file.doneElsewhere = true;
      this.fileRead(file);
    } else this.ours.add(job.path);
    return verdict === 'ours';
  }

  /** Waits up to `ms`, less if the run is stopping meanwhile. */
  private async pause(ms: number): Promise<void> {
    for (const until = Date.now() + ms; Date.now() < until && !this.stopping(); ) await new Promise((resolve) => setTimeout(resolve, Math.min(250, ms)));
  }

  /** A file this process claimed will not be finished by it: another process may take it. */
  private release(file: FileOutcome): void {
    if (!this.ours.delete(file.path) || !file.captureId) return;
    void this.options.claims?.release(file.captureId);
  }

  private onMessage(process: DissectingProcess, m: FromWorker): void {
    if (m.type === 'fatal') {
      // The others stop after their current batch and flush what they read.
      for (const other of this.workers.keys()) if (other !== process) other.child.kill('SIGTERM');
      return;
    }
    const worker = this.workers.get(process);
    if (!worker) return; // a spare, not at work yet
    switch (m.type) {
      case 'progress': {
        const p = this.progress.get(m.path)!;
        const bytes = Math.max(0, Math.min(m.position, this.outcomes.get(m.path)!.size) - p.position);
        p.position += bytes;
        this.options.onProgress?.(m.packets, bytes);
        break;
      }
      case 'near-limit':
        this.supervisor.prepareSpare();
        break;
      case 'read':
        this.partRead(process, worker, m.result);
        break;
      case 'settled':
        this.settle(worker, m.path, m.skipRecords, m.counts);
        break;
    }
  }

  private partRead(process: DissectingProcess, worker: Worker, r: PartResult): void {
    const file = this.outcomes.get(r.path)!;
    worker.job = undefined;
    file.started = true;
    file.packets += r.packets;
    file.records = r.records;
    this.written += r.packets;
    if (r.error) file.error = r.error;
    if (r.complete) this.progress.get(r.path)!.readToEnd = true;
    if (r.notCapture) file.notCapture = true;
    worker.unsettled.set(partKey(r.path, r.skipRecords), { file, result: r });
    if (r.interrupted) this.supervisor.interrupted = true;
    if (r.limitReached || (this.options.maxPackets && this.written >= this.options.maxPackets)) this.limitReached = true;
    if (r.complete || r.error) this.fileRead(file);
    if (r.error) this.release(file);
    if (r.recycle) {
      // The rest of the file goes first, to the successor; this process flushes and exits.
      this.queue.unshift({ path: r.path, captureId: file.captureId, skipRecords: r.records, maxPackets: 0 });
      this.startWorker();
    } else if (!r.interrupted && !r.limitReached) {
      this.giveWork(process); // or tell it to finish, if the run is stopping
    }
  }

  /** A file is read (or failed): the rest of its bytes count as done. */
  private fileRead(file: FileOutcome): void {
    const p = this.progress.get(file.path)!;
    this.options.onProgress?.(0, file.size - p.position);
    p.position = file.size;
    this.options.onFileRead?.(file);
  }

  private settle(worker: Worker, path: string, skipRecords: number, counts: FileCounts): void {
    const key = partKey(path, skipRecords);
    const part = worker.unsettled.get(key);
    if (!part) return;
    worker.unsettled.delete(key);
    const file = part.file;
    addFileCounts(file.counts, counts);
    const p = this.progress.get(path)!;
    p.openParts--;
    if (p.readToEnd && p.openParts === 0 && !file.error) this.options.onFileDone?.(file);
  }

  private onExit(process: DissectingProcess, how: string): void {
    const worker = this.workers.get(process);
    if (!worker) return; // a spare that was not needed
    this.workers.delete(process);
    if (!process.crashed) return;
    // The process died (a crash inside a dissector): the file it was reading
    // failed; what it had read but not flushed is read again by another.
    if (worker.job) {
      const file = this.outcomes.get(worker.job.path)!;
      file.started = true;
      file.error = { code: 'CRASH', message: `the dissecting process died (${how})` };
      this.progress.get(file.path)!.openParts--;
      this.fileRead(file);
      this.release(file);
    }
    for (const { file, result } of worker.unsettled.values()) {
      this.progress.get(file.path)!.openParts--;
      file.packets -= result.packets;
      this.written -= result.packets;
      if (result.complete) {
        this.progress.get(file.path)!.readToEnd = false;
        this.queue.unshift({ path: file.path, captureId: file.captureId, skipRecords: result.skipRecords, maxPackets: 0 });
      } else {
        file.error ??= { code: 'CRASH', message: `the dissecting process died while writing its documents (${how})` };
        this.release(file);
      }
    }
    if ((this.queue.length || this.heldElsewhere.length) && !this.stopping()) this.startWorker();
  }
}

export function runPool(files: PoolFile[], options: PoolOptions): Promise<PoolRun> {
  return new FilePool(files, options).run();
}
