// The file pool (src/pipeline/worker-pool.ts) with a stand-in supervisor:
// its "processes" are objects here that answer the pool's messages the way
// worker.ts does (planned, progress, read, settled, done), or die, or stop
// on SIGTERM, as each test scripts it. Checked: which process gets which file
// or part in what order, how a file is cut, what a crash, a replacement,
// --count, a fatal report, Ctrl-C and shared claims do to the outcome.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { FileOutcome, PoolOptions, PoolRun, PoolSupervisor, runPool } from '../../src/pipeline/worker-pool';
import { DissectingProcess, SupervisorOptions } from '../../src/pipeline/supervisor';
import type { DissectOptions, FileJob, PartResult } from '../../src/pipeline/dissect-file';
import type { FromWorker, ToWorker } from '../../src/pipeline/worker';
import type { PartPlan } from '../../src/engine/engine';
import type { OutputSpec } from '../../src/outputs';
import type { FileClaims } from '../../src/outputs/output';

interface FileSpec {
  /** Records (packets) in the file. */
  records: number;
  size: number;
  captureId?: string;
  /** What planning its parts answers (none: the file cannot be opened). */
  plan?: PartPlan;
}

/** What a stand-in process does with a job: report it read (the rest as reading it whole gives), perhaps settle it, perhaps die after. */
interface Step {
  read?: Partial<PartResult>;
  /** Send 'settled' at once (default); false: its documents stay in flight. */
  settle?: boolean;
  /** Die (with this exit description) instead of reading, or after reporting the read. */
  crash?: string;
}

/** A message as the other side gets it: IPC sends JSON. */
function ipc<T>(message: T): T {
  return JSON.parse(JSON.stringify(message)) as T;
}

class FakeChild extends EventEmitter {
  connected = true;
  readonly signals: NodeJS.Signals[] = [];
  constructor(private readonly sim: Sim) {
    super();
  }
  send(m: ToWorker): boolean {
    this.sim.world.deliver(this.sim, m);
    return true;
  }
  kill(signal: NodeJS.Signals): boolean {
    this.signals.push(signal);
    if (signal === 'SIGTERM') this.sim.stop();
    return true;
  }
}

/** One stand-in dissecting process. */
class Sim {
  readonly child = new FakeChild(this);
  readonly process = new DissectingProcess(this.child as unknown as ChildProcess);
  /** What the pool sent it: "job a@0", "plan a", "finish". */
  readonly received: string[] = [];
  exited = false;
  /** SIGTERM: what it waits for now ends (worker.ts finishes its batch and stops). */
  private onStop: (() => void)[] = [];
  stopped = false;

  constructor(
    readonly world: World,
    readonly name: string,
  ) {}

  stop(): void {
    this.stopped = true;
    for (const resolve of this.onStop.splice(0)) resolve();
  }
  /** Resolves at SIGTERM. */
  untilStopped(): Promise<void> {
    return this.stopped ? Promise.resolve() : new Promise((resolve) => this.onStop.push(resolve));
  }
}

/** The stand-in supervisor, and the processes it starts. */
class World implements PoolSupervisor {
  readonly sinkReports: unknown[] = [];
  failure: Error | undefined;
  interrupted = false;

  readonly sims: Sim[] = [];
  /** Every job sent, in order. */
  readonly jobs: { sim: string; job: FileJob }[] = [];
  sparesPrepared = 0;
  private spare: Sim | undefined;
  private options!: SupervisorOptions;
  private wake: () => void = () => {};
  /** What a process does with a job (default: reads it to its end). */
  script: (job: FileJob, sim: Sim) => Step | Promise<Step> = () => ({});
  /** What a process does when asked to plan (default: answers the file's plan). */
  planScript: (path: string, sim: Sim) => 'crash' | undefined = () => undefined;

  constructor(
    readonly files: Record<string, FileSpec>,
    readonly sessionPackets = 0,
  ) {}

  /** For PoolOptions.supervisor. */
  make = (options: SupervisorOptions): PoolSupervisor => {
    this.options = options;
    return this;
  };

  sim(name: string): Sim {
    const sim = this.sims.find((s) => s.name === name);
    assert.ok(sim, `no process ${name}`);
    return sim;
  }
  /** "p1 a@0", ... */
  get dispatched(): string[] {
    return this.jobs.map(({ sim, job }) => `${sim} ${job.path}@${job.skipRecords}`);
  }

  // ---- PoolSupervisor

  start(): DissectingProcess {
    const sim = this.spare ?? this.fork();
    this.spare = undefined;
    return sim.process;
  }
  prepareSpare(): void {
    this.sparesPrepared++;
    this.spare ??= this.fork();
  }
  changed(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }
  signalAll(signal: NodeJS.Signals): void {
    for (const s of this.sims) if (!s.exited && s !== this.spare) s.child.kill(signal);
  }
  async watchingSignals<T>(body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } finally {
      const spare = this.spare;
      this.spare = undefined;
      if (spare) {
        spare.process.discarded = true;
        this.exit(spare, 'signal SIGKILL');
      }
    }
  }

  // ---- what the real supervisor does on a signal, a message, an exit

  /** The first Ctrl-C. */
  interrupt(): void {
    this.interrupted = true;
    this.options.onInterrupt();
    this.wake();
  }
  reply(sim: Sim, sent: FromWorker): void {
    if (sim.exited) return;
    const m = ipc(sent);
    if (m.type === 'done') {
      sim.process.done = true;
      this.sinkReports.push(m.sinkReport);
    } else if (m.type === 'fatal') {
      sim.process.fatal = m;
      this.failure ??= new Error(m.message);
    }
    this.options.onMessage(sim.process, m);
    this.wake();
  }
  exit(sim: Sim, how: string): void {
    if (sim.exited) return;
    sim.exited = true;
    sim.child.connected = false;
    this.options.onExit(sim.process, how);
    this.wake();
  }

  // ---- the stand-in processes

  private fork(): Sim {
    const sim = new Sim(this, `p${this.sims.length + 1}`);
    this.sims.push(sim);
    return sim;
  }

  deliver(sim: Sim, sent: ToWorker): void {
    const m = ipc(sent);
    sim.received.push(m.type === 'job' ? `job ${m.job.path}@${m.job.skipRecords}` : m.type === 'plan' ? `plan ${m.path}` : m.type);
    if (m.type === 'job') this.jobs.push({ sim: sim.name, job: m.job });
    // Answers come later, as over IPC.
    setImmediate(() => void this.handle(sim, m));
  }

  /** Reading a job whole: to the end of its part or file, or to --count. */
  readWhole(job: FileJob): PartResult {
    const end = job.part?.end ? job.part.firstRecord + this.sessionPackets : this.files[job.path].records;
    let packets = end - job.skipRecords;
    const limitReached = job.maxPackets > 0 && packets >= job.maxPackets;
    if (limitReached) packets = job.maxPackets;
    return { path: job.path, skipRecords: job.skipRecords, packets, records: job.skipRecords + packets, complete: !limitReached, ...(limitReached && { limitReached }) };
  }

  settle(sim: Sim, r: { path: string; skipRecords: number; packets: number }): void {
    this.reply(sim, { type: 'settled', path: r.path, skipRecords: r.skipRecords, counts: { indexed: r.packets, duplicates: 0, deadLettered: 0 } });
  }

  private async handle(sim: Sim, m: ToWorker): Promise<void> {
    if (sim.exited) return;
    if (m.type === 'plan') {
      if (this.planScript(m.path, sim) === 'crash') return this.exit(sim, 'signal SIGSEGV');
      return this.reply(sim, { type: 'planned', path: m.path, plan: this.files[m.path].plan });
    }
    if (m.type === 'finish') return this.finish(sim);
    if (m.type !== 'job') return;
    const step = await this.script(m.job, sim);
    if (sim.exited) return;
    if (step.crash && !step.read) return this.exit(sim, step.crash);
    const result: PartResult = { ...this.readWhole(m.job), ...step.read };
    const position = m.job.part?.end || this.files[m.job.path].size;
    if (result.packets) this.reply(sim, { type: 'progress', path: result.path, packets: result.packets, position });
    this.reply(sim, { type: 'read', result });
    if (step.crash) return this.exit(sim, step.crash);
    if (step.settle !== false) this.settle(sim, result);
    // worker.ts stops taking jobs after these, flushes and ends.
    if (result.recycle || result.interrupted || result.limitReached) this.finish(sim);
  }

  private finish(sim: Sim): void {
    this.reply(sim, { type: 'done', sinkReport: sim.name });
    this.exit(sim, 'exit code 0');
  }
}

const DISSECT: DissectOptions = { maxBytes: 64, sessionPackets: 0, maxRssBytes: 0, dissectOnly: false };

interface Observed {
  run: PoolRun;
  read: string[];
  done: string[];
  packets: number;
  bytes: number;
  wholes: [string, string][];
}

/** Runs the pool over `world`'s files (in their order) with a stand-in supervisor; what it reported along the way. */
async function runWorld(world: World, options: Partial<PoolOptions> & { workers: number }): Promise<Observed> {
  const seen = { read: [] as string[], done: [] as string[], packets: 0, bytes: 0, wholes: [] as [string, string][] };
  const files = Object.entries(world.files).map(([path, f]) => ({ path, size: f.size, ...(f.captureId && { captureId: f.captureId }) }));
  const run = await runPool(files, {
    dissect: DISSECT,
    output: { format: 'ndjson', target: '/dev/null' } as OutputSpec,
    maxPackets: 0,
    sessionPackets: world.sessionPackets,
    onFileRead: (f) => seen.read.push(f.path),
    onFileDone: (f) => seen.done.push(f.path),
    onProgress: (packets, bytes) => {
      seen.packets += packets;
      seen.bytes += bytes;
    },
    onReadWhole: (path, reason) => seen.wholes.push([path, reason]),
    supervisor: world.make,
    ...options,
  });
  return { run, ...seen };
}

/** Waits (a few thousand turns of the event loop at most) until `condition` holds. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 5000 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve));
  assert.ok(condition(), `waited for ${what}`);
}

const outcome = (run: PoolRun, path: string): FileOutcome => {
  const f = run.files.find((o) => o.path === path);
  assert.ok(f, path);
  return f;
};
const counts = (indexed: number) => ({ indexed, duplicates: 0, deadLettered: 0 });
const TIMEOUT = { timeout: 10_000 };

test('one worker: the files in the order given, whole, then "finish"; every outcome, report and byte', TIMEOUT, async () => {
  const world = new World({ a: { records: 10, size: 100 }, b: { records: 30, size: 300 }, c: { records: 20, size: 200 } });
  const seen = await runWorld(world, { workers: 1 });
  assert.equal(world.sims.length, 1);
  assert.deepEqual(world.sim('p1').received, ['job a@0', 'job b@0', 'job c@0', 'finish']);
  assert.deepEqual(world.jobs[0].job, { path: 'a', skipRecords: 0, maxPackets: 0 });
  assert.deepEqual(seen.run, {
    files: [
      { path: 'a', size: 100, packets: 10, records: 10, started: true, counts: counts(10) },
      { path: 'b', size: 300, packets: 30, records: 30, started: true, counts: counts(30) },
      { path: 'c', size: 200, packets: 20, records: 20, started: true, counts: counts(20) },
    ],
    limitReached: false,
    interrupted: false,
    replacements: 0,
    sinkReports: ['p1'],
    cut: { files: 0, parts: 0 },
  });
  assert.deepEqual(seen.read, ['a', 'b', 'c']);
  assert.deepEqual(seen.done, ['a', 'b', 'c']);
  assert.deepEqual([seen.packets, seen.bytes], [60, 600]);
});

test('several workers: files largest first; no more processes than files', TIMEOUT, async () => {
  const world = new World({ a: { records: 10, size: 100 }, b: { records: 30, size: 300 }, c: { records: 20, size: 200 }, d: { records: 5, size: 50 } });
  const seen = await runWorld(world, { workers: 2 });
  assert.deepEqual(world.jobs.map(({ job }) => job.path), ['b', 'c', 'a', 'd']);
  assert.equal(world.sims.length, 2);
  assert.deepEqual(world.sims.map((s) => s.received.at(-1)), ['finish', 'finish']);
  // Outcomes in the order given, whatever the order read.
  assert.deepEqual(seen.run.files.map((f) => [f.path, f.packets]), [['a', 10], ['b', 30], ['c', 20], ['d', 5]]);
  assert.deepEqual(seen.bytes, 650);

  const few = new World({ a: { records: 1, size: 10 }, b: { records: 1, size: 20 } });
  await runWorld(few, { workers: 8 });
  assert.equal(few.sims.length, 2);
});

const BIG_PLAN: PartPlan = { fileType: 'pcap', records: 35, headerBytes: 24, starts: [1000, 2500, 3000], wholeReason: '' };
const part = (firstRecord: number, start: number, end: number) => ({ firstRecord, start, end, headerBytes: 24, fileType: 'pcap' });

test('a file of more records than a part: planned by the process that takes it, which reads the largest part; the others go first in the queue, largest first', TIMEOUT, async () => {
  // Parts of 10 records: bytes 24-1000 (976), 1000-2500 (1500), 2500-3000 (500), 3000-3200 (200).
  const world = new World({ big: { records: 35, size: 3200, plan: BIG_PLAN }, x: { records: 3, size: 150 }, y: { records: 2, size: 120 } }, 10);
  // x (too small to cut: 150 <= 24 + 16 * 10 bytes) keeps p2 busy until y is given out.
  world.script = async (job) => {
    if (job.path === 'x') await until(() => world.jobs.some((j) => j.job.path === 'y'), 'y given out');
    return {};
  };
  const seen = await runWorld(world, { workers: 2 });
  assert.deepEqual(world.sim('p1').received, ['plan big', 'job big@10', 'job big@0', 'job big@20', 'job big@30', 'job y@0', 'finish']);
  assert.deepEqual(world.sim('p2').received, ['job x@0', 'finish']);
  const parts = world.jobs.filter(({ job }) => job.path === 'big').map(({ job }) => job);
  assert.deepEqual(parts, [
    { path: 'big', skipRecords: 10, maxPackets: 0, part: part(10, 1000, 2500) },
    { path: 'big', skipRecords: 0, maxPackets: 0, part: part(0, 24, 1000) },
    { path: 'big', skipRecords: 20, maxPackets: 0, part: part(20, 2500, 3000) },
    { path: 'big', skipRecords: 30, maxPackets: 0, part: part(30, 3000, 0) },
  ]);
  assert.deepEqual(seen.run.cut, { files: 1, parts: 4 });
  assert.deepEqual(outcome(seen.run, 'big'), { path: 'big', size: 3200, packets: 35, records: 35, started: true, counts: counts(35) });
  assert.deepEqual(seen.read.filter((p) => p === 'big'), ['big'], 'read once, when its last part is');
  assert.deepEqual(seen.done.filter((p) => p === 'big'), ['big']);
  assert.equal(seen.bytes, 3200 + 150 + 120);
});

test('a file that may be cut starts every process, even alone: the others wait for its plan, then take its parts', TIMEOUT, async () => {
  const world = new World({ big: { records: 35, size: 3200, plan: BIG_PLAN } }, 10);
  const seen = await runWorld(world, { workers: 3 });
  assert.equal(world.sims.length, 3);
  assert.deepEqual(world.dispatched.slice(0, 3), ['p1 big@10', 'p2 big@0', 'p3 big@20']);
  assert.deepEqual(world.jobs.map(({ job }) => job.skipRecords), [10, 0, 20, 30]);
  assert.deepEqual(outcome(seen.run, 'big').packets, 35);
});

test('a part that does not end where the next begins fails its file, naming the part', TIMEOUT, async () => {
  const world = new World({ big: { records: 35, size: 3200, plan: BIG_PLAN } }, 10);
  world.script = (job) => (job.skipRecords === 10 ? { read: { packets: 9, records: 19 } } : {});
  const seen = await runWorld(world, { workers: 2 });
  assert.deepEqual(outcome(seen.run, 'big').error, { code: 'READ_ERROR', message: 'its part from record 11 read as 9 records, not 10: read it with --workers 1' });
  assert.deepEqual(seen.read, ['big']);
  assert.deepEqual(seen.done, [], 'a failed file is never recorded as done');
});

test('a file that cannot be cut is read whole (onReadWhole says why); one that cannot be opened is read whole to say what is wrong', TIMEOUT, async () => {
  const world = new World(
    {
      gz: { records: 50, size: 5000, plan: { fileType: 'pcap', records: 50, headerBytes: 24, starts: [], wholeReason: 'compressed' } },
      bad: { records: 0, size: 4000 },
    },
    10,
  );
  world.script = (job) => (job.path === 'bad' ? { read: { complete: false, notCapture: true, error: { code: 'UNKNOWN_FORMAT', message: 'not a capture file' } } } : {});
  const seen = await runWorld(world, { workers: 2 });
  assert.deepEqual(seen.wholes, [['gz', 'compressed']]);
  assert.deepEqual(world.jobs.map(({ job }) => job).sort((a, b) => a.path.localeCompare(b.path)), [
    { path: 'bad', skipRecords: 0, maxPackets: 0 },
    { path: 'gz', skipRecords: 0, maxPackets: 0 },
  ]);
  assert.deepEqual(seen.run.cut, { files: 0, parts: 0 });
  assert.deepEqual(outcome(seen.run, 'bad'), { path: 'bad', size: 4000, packets: 0, records: 0, started: true, counts: counts(0), notCapture: true, error: { code: 'UNKNOWN_FORMAT', message: 'not a capture file' } });
  assert.deepEqual(outcome(seen.run, 'gz').packets, 50);
});

test('a process that dies planning a file leaves the file to another, which plans it', TIMEOUT, async () => {
  const world = new World({ big: { records: 35, size: 3200, plan: BIG_PLAN } }, 10);
  world.planScript = (_, sim) => (sim.name === 'p1' ? 'crash' : undefined);
  const seen = await runWorld(world, { workers: 2 });
  assert.deepEqual(world.sim('p1').received, ['plan big']);
  assert.deepEqual(world.sim('p3').received[0], 'plan big');
  assert.deepEqual(outcome(seen.run, 'big'), { path: 'big', size: 3200, packets: 35, records: 35, started: true, counts: counts(35) });
  assert.deepEqual(seen.run.cut, { files: 1, parts: 4 });
});

test('a process that dies reading a file fails that file; a file it had read but not settled is read again by a new process, counted once', TIMEOUT, async () => {
  const world = new World({ a: { records: 10, size: 100 }, b: { records: 20, size: 200 }, c: { records: 30, size: 300 } });
  world.script = (job, sim) => (sim.name === 'p1' ? (job.path === 'a' ? { settle: false } : { crash: 'signal SIGSEGV' }) : {});
  const seen = await runWorld(world, { workers: 1 });
  assert.deepEqual(world.sim('p1').received, ['job a@0', 'job b@0']);
  assert.deepEqual(world.sim('p2').received, ['job a@0', 'job c@0', 'finish']);
  assert.deepEqual(seen.run.files, [
    { path: 'a', size: 100, packets: 10, records: 10, started: true, counts: counts(10) },
    { path: 'b', size: 200, packets: 0, records: 0, started: true, counts: counts(0), error: { code: 'CRASH', message: 'the dissecting process died (signal SIGSEGV)' } },
    { path: 'c', size: 300, packets: 30, records: 30, started: true, counts: counts(30) },
  ]);
  assert.deepEqual(seen.read, ['a', 'b', 'a', 'c']);
  assert.deepEqual(seen.done, ['a', 'c']);
  assert.deepEqual([seen.run.replacements, seen.run.sinkReports], [0, ['p2']]);
  // Bytes are counted once per file, the file read again included.
  assert.equal(seen.bytes, 600);
});

test('a process that dies with documents in flight for a part it did not finish fails that file', TIMEOUT, async () => {
  const world = new World({ a: { records: 10, size: 100 } });
  // p1 grew past its limit: it hands over after 5 records, then dies before its documents settle.
  world.script = (_, sim) => (sim.name === 'p1' ? { read: { packets: 5, records: 5, complete: false, recycle: true }, settle: false, crash: 'signal SIGKILL' } : {});
  const seen = await runWorld(world, { workers: 1 });
  assert.deepEqual(world.dispatched, ['p1 a@0', 'p2 a@5']);
  assert.deepEqual(outcome(seen.run, 'a'), {
    path: 'a',
    size: 100,
    packets: 5,
    records: 10,
    started: true,
    counts: counts(5),
    error: { code: 'CRASH', message: 'the dissecting process died while writing its documents (signal SIGKILL)' },
  });
  assert.deepEqual(seen.done, []);
  assert.equal(seen.run.replacements, 1);
});

test('a process past its memory limit: a spare is started when it nears it, and takes the rest of the file first', TIMEOUT, async () => {
  const world = new World({ a: { records: 100, size: 1000 }, b: { records: 10, size: 100 } });
  world.script = (job, sim) => {
    if (sim.name !== 'p1') return {};
    world.reply(sim, { type: 'near-limit' });
    return { read: { packets: 40, records: 40, complete: false, recycle: true } };
  };
  const seen = await runWorld(world, { workers: 1 });
  assert.equal(world.sparesPrepared, 1);
  assert.equal(world.sims.length, 2, 'the spare, and no other process');
  assert.deepEqual(world.sim('p1').received, ['job a@0']);
  assert.deepEqual(world.sim('p2').received, ['job a@40', 'job b@0', 'finish']);
  assert.deepEqual(outcome(seen.run, 'a'), { path: 'a', size: 1000, packets: 100, records: 100, started: true, counts: counts(100) });
  assert.deepEqual([seen.run.replacements, seen.run.sinkReports], [1, ['p1', 'p2']]);
  assert.deepEqual(seen.read, ['a', 'b']);
  assert.deepEqual(seen.done, ['a', 'b']);
});

test('a process replaced after reading its last part to the end: no successor when there is no work left', TIMEOUT, async () => {
  const world = new World({ a: { records: 10, size: 100 } });
  world.script = () => ({ read: { recycle: true } });
  const seen = await runWorld(world, { workers: 1 });
  assert.equal(world.sims.length, 1);
  assert.deepEqual(world.sim('p1').received, ['job a@0']);
  assert.deepEqual([seen.run.replacements, outcome(seen.run, 'a').packets], [0, 10]);
  assert.deepEqual(seen.done, ['a']);
});

test('--count: each job asks for what is left; the run stops once it is reached', TIMEOUT, async () => {
  const world = new World({ a: { records: 10, size: 100 }, b: { records: 20, size: 200 }, c: { records: 30, size: 300 } });
  const seen = await runWorld(world, { workers: 1, maxPackets: 25 });
  assert.deepEqual(world.jobs.map(({ job }) => [job.path, job.maxPackets]), [['a', 25], ['b', 15]]);
  assert.deepEqual(world.sim('p1').received, ['job a@0', 'job b@0'], 'no "finish": the process stops by itself at the limit');
  assert.equal(seen.run.limitReached, true);
  assert.deepEqual(seen.run.files.map((f) => [f.path, f.packets, f.records, f.started]), [['a', 10, 10, true], ['b', 15, 15, true], ['c', 0, 0, false]]);
  assert.deepEqual(seen.read, ['a']);
  assert.deepEqual(seen.done, ['a']);
});

test('a fatal report: the other processes are stopped (SIGTERM), nothing more is given out, the run fails with it', TIMEOUT, async () => {
  const world = new World({ a: { records: 30, size: 300 }, b: { records: 20, size: 200 }, c: { records: 10, size: 100 } });
  world.script = async (job, sim) => {
    if (job.path === 'b') {
      world.reply(sim, { type: 'fatal', message: 'cannot write out.ndjson: no space left on device', outputClosed: false, usage: false });
      return { crash: 'exit code 0' };
    }
    await sim.untilStopped();
    return { read: { packets: 12, records: 12, complete: false, interrupted: true } };
  };
  await assert.rejects(runWorld(world, { workers: 2 }), { message: 'cannot write out.ndjson: no space left on device' });
  assert.deepEqual(world.dispatched, ['p1 a@0', 'p2 b@0']);
  assert.deepEqual(world.sim('p1').child.signals, ['SIGTERM']);
  assert.deepEqual(world.sim('p2').child.signals, []);
});

test('Ctrl-C: the processes at work are asked to stop after their batch; what they read counts, files not reached are not started', TIMEOUT, async () => {
  const world = new World({ a: { records: 30, size: 300 }, b: { records: 20, size: 200 }, c: { records: 10, size: 100 } });
  world.script = async (job, sim) => {
    await sim.untilStopped();
    return { read: { packets: 7, records: 7, complete: false, interrupted: true } };
  };
  const running = runWorld(world, { workers: 2 });
  await until(() => world.jobs.length === 2, 'both processes at work');
  world.interrupt();
  const seen = await running;
  assert.equal(seen.run.interrupted, true);
  assert.deepEqual(world.sims.map((s) => [s.received, s.child.signals]), [
    [['job a@0'], ['SIGTERM']],
    [['job b@0'], ['SIGTERM']],
  ]);
  assert.deepEqual(seen.run.files.map((f) => [f.path, f.packets, f.started]), [['a', 7, true], ['b', 7, true], ['c', 0, false]]);
  assert.deepEqual([seen.read, seen.done], [[], []]);
});

test('shared claims: a file done elsewhere is left out, one held elsewhere is asked about again at the end, a failed one is released', TIMEOUT, async () => {
  const world = new World({
    a: { records: 10, size: 100, captureId: 'ca' },
    b: { records: 20, size: 200, captureId: 'cb' },
    c: { records: 30, size: 300, captureId: 'cc' },
    d: { records: 5, size: 50 },
  });
  world.script = (job) => (job.path === 'c' ? { read: { packets: 3, records: 3, complete: false, error: { code: 'READ_ERROR', message: 'truncated' } } } : {});
  const asked: string[] = [];
  const released: string[] = [];
  const answers: Record<string, ('ours' | 'done' | 'held')[]> = { ca: ['done'], cb: ['held', 'ours'], cc: ['ours'] };
  const claims: FileClaims = {
    retryMs: 5,
    async claim({ captureId, path, size }) {
      asked.push(`${captureId} ${path} ${size}`);
      return answers[captureId].shift()!;
    },
    async release(captureId) {
      released.push(captureId);
    },
  };
  const seen = await runWorld(world, { workers: 1, claims });
  assert.deepEqual(asked, ['ca a 100', 'cb b 200', 'cc c 300', 'cb b 200']);
  assert.deepEqual(world.sim('p1').received, ['job c@0', 'job d@0', 'job b@0', 'finish']);
  assert.deepEqual(released, ['cc']);
  assert.deepEqual(outcome(seen.run, 'a'), { path: 'a', size: 100, captureId: 'ca', packets: 0, records: 0, started: false, counts: counts(0), doneElsewhere: true });
  assert.deepEqual(outcome(seen.run, 'c').error, { code: 'READ_ERROR', message: 'truncated' });
  assert.deepEqual(seen.read, ['a', 'c', 'd', 'b']);
  assert.deepEqual(seen.done, ['d', 'b']);
});

test('shared claims: a claim that fails ends the run with its error', TIMEOUT, async () => {
  const world = new World({ a: { records: 10, size: 100, captureId: 'ca' } });
  const claims: FileClaims = {
    retryMs: 5,
    claim: async () => {
      throw new Error('Elasticsearch: cannot claim: cluster down');
    },
    release: async () => {},
  };
  await assert.rejects(runWorld(world, { workers: 1, claims }), { message: 'Elasticsearch: cannot claim: cluster down' });
  assert.deepEqual(world.sim('p1').received, ['finish']);
  assert.deepEqual(world.sim('p1').child.signals, ['SIGTERM']);
});
