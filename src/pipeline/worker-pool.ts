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
// A file holding more records than --session-packets (`sessionPackets`,
// where one process would start a fresh epan session anyway) is cut into
// parts of that many records, which processes dissect side by side, each in
// a fresh session: the documents are those of one process reading it whole.
// A process plans the cut first (native/capture_parts.h: wiretap reads the
// file once, no dissection); the parts go to the front of the queue. A
// compressed file, another format than pcap or pcapng, or one describing
// interfaces after its first packet is read whole (onReadWhole says why).
//
// With `claims` (an output other espcap processes share), a file is claimed
// before it is read: one done elsewhere is left out, one another process
// reads now is asked about again later, until it is done (or its claim
// expires and it becomes ours). A file that fails is released.
import type { OutputSpec } from '../outputs';
import type { FileClaims } from '../outputs/output';
import { addFileCounts, FileCounts, noFileCounts } from '../sink';
import { DissectOptions, FileJob, PartResult } from './dissect-file';
import { DissectingProcess, Supervisor, SupervisorOptions } from './supervisor';
import type { FromWorker } from './worker';

type Planned = Extract<FromWorker, { type: 'planned' }>;

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
  /** Dissecting processes put to work in place of one grown past its memory limit. */
  replacements: number;
  /** What each process's sink reported (for the output's report). */
  sinkReports: unknown[];
  /** Files cut into parts, and the parts. */
  cut: { files: number; parts: number };
}

/** What the pool asks of its supervisor (supervisor.ts); the unit tests give it a stand-in. */
export type PoolSupervisor = Pick<Supervisor, 'start' | 'prepareSpare' | 'changed' | 'signalAll' | 'watchingSignals' | 'failure' | 'interrupted' | 'sinkReports'>;

export interface PoolOptions {
  workers: number;
  dissect: DissectOptions;
  output: OutputSpec;
  /** Packets wanted in total (--count; needs one worker); 0 for no limit. */
  maxPackets: number;
  /** Cut a file holding more records than this into parts of this many, for several processes; 0 never. */
  sessionPackets: number;
  /** A file with enough records to be cut is read whole by one process, for `reason`. */
  onReadWhole?(path: string, reason: string): void;
  /** Files shared with other espcap processes: claim each before reading it. */
  claims?: FileClaims;
  /** Packets and file bytes read since the last call. */
  onProgress?(packets: number, bytes: number): void;
  /** A file was read to its end, or failed. */
  onFileRead?(file: FileOutcome): void;
  onFileDone?(file: FileOutcome): void;
  /** Makes the supervisor of the dissecting processes: supervisor.ts's unless a test gives a stand-in. */
  supervisor?(options: SupervisorOptions): PoolSupervisor;
}

/** A part of a file read by a process whose documents are not all settled yet. */
interface OpenPart {
  file: FileOutcome;
  job: FileJob;
  result: PartResult;
}

/** What the pool knows of a process it put to work. */
interface Worker {
  /** The part being read. */
  job: FileJob | undefined;
  /** Where in the file its progress reports have got to. */
  position: number;
  /** Parts read, documents still in flight, by partKey(). */
  readonly unsettled: Map<string, OpenPart>;
}

/** Per file: parts being read or not yet settled, parts not yet read to their end, and the bytes reported as read. */
interface FileProgress {
  openParts: number;
  /** 1 for a file read whole; its parts once cut. */
  partsLeft: number;
  /** Planned (cut, or found to be read whole). */
  planned: boolean;
  /** onFileRead was called. */
  readReported: boolean;
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
  private readonly supervisor: PoolSupervisor;
  private limitReached = false;
  /** Packets written so far, for --count. */
  private written = 0;
  /** Processes planning a cut, and what each waits for. */
  private readonly plans = new Map<DissectingProcess, (answer: Planned | undefined) => void>();
  /** Files taken from the queue that may yet be cut (being claimed or planned): their parts may come. */
  private cutsPending = 0;
  /** Processes at work that said they near their memory limit: each will want a successor. */
  private readonly nearLimit = new Set<DissectingProcess>();
  /** Processes waiting for work a plan may bring. */
  private waitingForPlans: (() => void)[] = [];
  private readonly cut = { files: 0, parts: 0 };
  private replacements = 0;

  constructor(
    files: PoolFile[],
    private readonly options: PoolOptions,
  ) {
    this.outcomes = new Map(files.map((f) => [f.path, { ...f, packets: 0, records: 0, started: false, counts: noFileCounts() }]));
    this.progress = new Map(files.map((f) => [f.path, { openParts: 0, partsLeft: 1, planned: false, readReported: false, position: 0 }]));
    this.queue = files.map((f) => ({ path: f.path, captureId: f.captureId, skipRecords: 0, maxPackets: 0 }));
    // One worker keeps the given order (output in file order, --count takes the first packets).
    if (options.workers > 1) this.queue.sort((a, b) => this.outcomes.get(b.path)!.size - this.outcomes.get(a.path)!.size);
    const supervise = options.supervisor ?? ((o: SupervisorOptions) => new Supervisor(o));
    this.supervisor = supervise({
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
      // A file that may be cut keeps every process busy, even alone.
      const start = this.queue.some((job) => this.mayCut(job)) ? this.options.workers : Math.min(this.options.workers, this.queue.length);
      for (let i = 0; i < start; i++) this.startWorker();
      while (this.workers.size) await this.supervisor.changed();
    });
    if (this.supervisor.failure) throw this.supervisor.failure;
    return {
      files: [...this.outcomes.values()],
      limitReached: this.limitReached,
      interrupted: this.supervisor.interrupted,
      replacements: this.replacements,
      sinkReports: this.supervisor.sinkReports,
      cut: this.cut,
    };
  }

  /** Whether the run is ending: interrupted, --count reached, or failed. */
  private stopping(): boolean {
    return this.supervisor.interrupted || this.limitReached || this.supervisor.failure !== undefined;
  }

  private startWorker(): void {
    const dissector = this.supervisor.start();
    this.workers.set(dissector, { job: undefined, position: 0, unsettled: new Map() });
    void this.giveWork(dissector);
  }

  /**
   * The next part from the queue, or, when there is none or the run is
   * stopping, the word to finish. Files other processes are reading are
   * waited for, and asked about again.
   */
  private async giveWork(dissector: DissectingProcess): Promise<void> {
    for (;;) {
      let job = this.stopping() ? undefined : this.queue.shift();
      if (!job) {
        if (!this.stopping() && this.cutsPending) {
          await new Promise<void>((resolve) => this.waitingForPlans.push(resolve));
          continue;
        }
        if (this.stopping() || !this.heldElsewhere.length) break;
        await this.pause(this.options.claims!.retryMs);
        this.queue.push(...this.heldElsewhere.splice(0));
        continue;
      }
      const mayCut = this.mayCut(job);
      if (mayCut) this.cutsPending++;
      try {
        if (!(await this.claimed(job))) continue;
        if (mayCut && this.workers.has(dissector)) job = await this.plan(dissector, job);
      } finally {
        if (mayCut) this.cutsPending--;
        for (const resolve of this.waitingForPlans.splice(0)) resolve();
      }
      if (!job) return; // the dissector died while planning: the file waits for another
      const worker = this.workers.get(dissector);
      if (!worker) {
        // The process died while the claim was out: the file waits for another.
        this.queue.unshift(job);
        if (!this.stopping() && this.workers.size < this.options.workers) this.startWorker();
        return;
      }
      if (this.options.maxPackets) job.maxPackets = this.options.maxPackets - this.written;
      worker.job = job;
      worker.position = job.part?.start ?? this.progress.get(job.path)!.position;
      this.progress.get(job.path)!.openParts++;
      dissector.send({ type: 'job', job });
      return;
    }
    dissector.send({ type: 'finish' });
  }

  /** A file not yet planned that may hold more records than a part (16 bytes at least each: a pcap record header). */
  private mayCut(job: FileJob): boolean {
    const every = this.options.sessionPackets;
    return every > 0 && !this.progress.get(job.path)!.planned && this.outcomes.get(job.path)!.size > 24 + 16 * every;
  }

  /**
   * Has `process` plan the cut of a file: the job for its first part (the
   * others go to the front of the queue), or the whole file. Undefined if the
   * process died meanwhile (the job is back in the queue).
   */
  private async plan(dissector: DissectingProcess, job: FileJob): Promise<FileJob | undefined> {
    const every = this.options.sessionPackets;
    const answer = await new Promise<Planned | undefined>((resolve) => {
      this.plans.set(dissector, resolve);
      dissector.send({ type: 'plan', path: job.path, every });
    });
    this.plans.delete(dissector);
    if (!answer) {
      this.queue.unshift(job);
      if (!this.stopping() && this.workers.size < this.options.workers) this.startWorker();
      return undefined;
    }
    const progress = this.progress.get(job.path)!;
    progress.planned = true;
    const plan = answer.plan;
    // A file that cannot be opened is read whole: reading it says what is wrong.
    if (!plan || !plan.starts.length) {
      if (plan?.wholeReason) this.options.onReadWhole?.(job.path, plan.wholeReason);
      return job;
    }
    const parts = [plan.headerBytes, ...plan.starts].map(
      (start, i): FileJob => ({
        ...job,
        skipRecords: i * every,
        part: { firstRecord: i * every, start, end: plan.starts[i] ?? 0, headerBytes: plan.headerBytes, fileType: plan.fileType },
      }),
    );
    progress.partsLeft = parts.length;
    this.cut.files++;
    this.cut.parts += parts.length;
    // Largest first, like files: the run ends on a small part, not with one
    // process finishing a large one while the others wait. Each part is
    // dissected in a fresh session, so the order changes no document.
    const size = (job: FileJob) => (job.part!.end || this.outcomes.get(job.path)!.size) - job.part!.start;
    const [first, ...rest] = parts.sort((a, b) => size(b) - size(a));
    this.queue.unshift(...rest);
    while (!this.stopping() && this.workers.size < this.options.workers) this.startWorker();
    return first;
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

  private onMessage(dissector: DissectingProcess, m: FromWorker): void {
    if (m.type === 'fatal') {
      // The others stop after their current batch and flush what they read.
      for (const other of this.workers.keys()) if (other !== dissector) other.child.kill('SIGTERM');
      return;
    }
    const worker = this.workers.get(dissector);
    if (!worker) return; // a spare, not at work yet
    switch (m.type) {
      case 'planned':
        this.plans.get(dissector)?.(m);
        break;
      case 'progress': {
        const bytes = Math.max(0, Math.min(m.position, this.outcomes.get(m.path)!.size) - worker.position);
        worker.position += bytes;
        this.progress.get(m.path)!.position += bytes;
        this.options.onProgress?.(m.packets, bytes);
        break;
      }
      case 'near-limit':
        this.nearLimit.add(dissector);
        this.supervisor.prepareSpare();
        break;
      case 'read':
        this.partRead(dissector, worker, m.result);
        break;
      case 'settled':
        this.settle(worker, m.path, m.skipRecords, m.counts);
        break;
    }
  }

  private partRead(dissector: DissectingProcess, worker: Worker, r: PartResult): void {
    const file = this.outcomes.get(r.path)!;
    const job = worker.job!;
    const progress = this.progress.get(r.path)!;
    worker.job = undefined;
    file.started = true;
    file.packets += r.packets;
    file.records = Math.max(file.records, r.records);
    this.written += r.packets;
    if (r.error) file.error = r.error;
    if (r.complete) {
      progress.partsLeft--;
      // A part before the last ends where the next begins: exactly `sessionPackets` records on.
      const part = job.part;
      if (part && part.end && r.records !== part.firstRecord + this.options.sessionPackets)
        file.error ??= { code: 'READ_ERROR', message: `its part from record ${part.firstRecord + 1} read as ${r.records - part.firstRecord} records, not ${this.options.sessionPackets}: read it with --workers 1` };
    }
    if (r.notCapture) file.notCapture = true;
    worker.unsettled.set(partKey(r.path, r.skipRecords), { file, job, result: r });
    if (r.interrupted) this.supervisor.interrupted = true;
    if (r.limitReached || (this.options.maxPackets && this.written >= this.options.maxPackets)) this.limitReached = true;
    if (progress.partsLeft === 0 || file.error) this.fileRead(file);
    if (r.error) this.release(file);
    if (r.recycle) {
      // The rest of the file (or of the part) goes first, to the successor; this process flushes and exits.
      if (!r.complete) this.queue.unshift({ ...job, skipRecords: r.records, maxPackets: 0 });
      this.nearLimit.delete(dissector);
      // A part read to its end may have been the last work there is: no successor is needed then.
      if (this.queue.length || this.cutsPending || this.heldElsewhere.length) {
        this.replacements++;
        this.startWorker();
      }
      // The spare went to this one's successor: another process near its limit will want one too.
      if ([...this.nearLimit].some((p) => this.workers.has(p))) this.supervisor.prepareSpare();
    } else if (!r.interrupted && !r.limitReached) {
      this.giveWork(dissector); // or tell it to finish, if the run is stopping
    }
  }

  /** A file is read (or failed): the rest of its bytes count as done. */
  private fileRead(file: FileOutcome): void {
    const p = this.progress.get(file.path)!;
    if (p.readReported) return;
    p.readReported = true;
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
    if (p.partsLeft === 0 && p.openParts === 0 && !file.error) this.options.onFileDone?.(file);
  }

  private onExit(dissector: DissectingProcess, how: string): void {
    this.plans.get(dissector)?.(undefined);
    const worker = this.workers.get(dissector);
    if (!worker) return; // a spare that was not needed
    this.workers.delete(dissector);
    this.nearLimit.delete(dissector);
    if (!dissector.crashed) return;
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
    for (const { file, job, result } of worker.unsettled.values()) {
      const progress = this.progress.get(file.path)!;
      progress.openParts--;
      file.packets -= result.packets;
      this.written -= result.packets;
      if (result.complete) {
        progress.partsLeft++;
        progress.readReported = false;
        this.queue.unshift({ ...job, skipRecords: result.skipRecords, maxPackets: 0 });
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
