// Entry point of a dissecting process, started by supervisor.ts. It takes
// capture files (or a live stream) one at a time, dissects them in its own
// epan session and writes their documents itself, through the sink of its
// output (a file, standard output, or Elasticsearch).
import { initEngine, PartPlan, planParts } from '../engine/engine';
import { EspcapError } from '../errors';
import { openSink, OutputSpec } from '../outputs';
import { FileCounts, noFileCounts, OutputClosedError, PacketSink } from '../sink';
import { dissectFile, DissectOptions, FileJob, PartResult } from './dissect-file';

export type ToWorker =
  | { type: 'setup'; options: DissectOptions; output: OutputSpec }
  /** The next file (part) to read; sent after each 'read'. */
  | { type: 'job'; job: FileJob }
  /** Plan the parts of `every` records of a file (see planParts); answered by 'planned', then a job follows. */
  | { type: 'plan'; path: string; every: number }
  /** No more work: flush, report and exit. */
  | { type: 'finish' }
  /** Live: the predecessor has written all it had; this process may write (FileJob.live.afterPredecessor). */
  | { type: 'go' };

export type FromWorker =
  /** Packets read since the last progress message, and the position reached in the file. */
  | { type: 'progress'; path: string; packets: number; position: number }
  /** Reading a part ended; its documents may still be in flight. */
  | { type: 'read'; result: PartResult }
  /** Every document of the part starting after `skipRecords` is settled. */
  | { type: 'settled'; path: string; skipRecords: number; counts: FileCounts }
  /** The answer to 'plan': the plan, or none if the file cannot be opened (reading it will say why). */
  | { type: 'planned'; path: string; plan?: PartPlan }
  /** Memory is at 80% of the limit: a successor should get ready. */
  | { type: 'near-limit' }
  /** Live only: past the limit; the capture side switches the stream to a successor. */
  | { type: 'over-limit' }
  /** All flushed; the process exits. `sinkReport`: what its sink reports (PacketSink.report). */
  | { type: 'done'; sinkReport?: unknown }
  | { type: 'fatal'; message: string; outputClosed: boolean; usage: boolean };

const PROGRESS_EVERY_MS = 200;

function send(message: FromWorker): Promise<void> {
  return new Promise((resolve) => process.send!(message, () => resolve()));
}

/** Messages from espcap, taken one at a time. */
class Inbox {
  private queue: ToWorker[] = [];
  private wake: (() => void) | undefined;

  /** Resolved by 'go' (live: the predecessor is done writing), which is not queued. */
  readonly go: Promise<void>;

  constructor() {
    let go: () => void = () => {};
    this.go = new Promise((resolve) => (go = resolve));
    process.on('message', (m: ToWorker) => {
      if (m.type === 'go') return go();
      this.queue.push(m);
      this.wake?.();
    });
    // espcap went away (killed): stop after this batch, flush, and end.
    process.on('disconnect', () => {
      interrupted = true;
      this.queue.push({ type: 'finish' });
      this.wake?.();
    });
  }

  async next(): Promise<ToWorker> {
    while (!this.queue.length) await new Promise<void>((resolve) => (this.wake = resolve));
    this.wake = undefined;
    return this.queue.shift()!;
  }
}

// Stopped by espcap (SIGTERM), or espcap is gone: finish the current batch,
// flush, report. A live stream is read to its end: the capture side ends it.
let interrupted = false;
process.on('SIGINT', () => (interrupted = true));
process.on('SIGTERM', () => (interrupted = true));

async function run(inbox: Inbox): Promise<void> {
  const setup = await inbox.next();
  if (setup.type !== 'setup') return;
  let sink: PacketSink | undefined;
  try {
    await engineReady;
    sink = await openSink(setup.output);
    const settling: Promise<void>[] = [];
    let nearLimitSent = false;
    let overLimitSent = false;
    let partsRead = 0;
    for (let m = await inbox.next(); m.type === 'job' || m.type === 'plan'; m = await inbox.next()) {
      if (m.type === 'plan') {
        await send(await plan(m.path, m.every));
        continue;
      }
      const { maxRssBytes } = setup.options;
      if (partsRead++ && maxRssBytes && process.memoryUsage.rss() > maxRssBytes) {
        // Grown past the limit between files: hand this one to a fresh process untouched.
        const { path, skipRecords } = m.job;
        await send({ type: 'read', result: { path, skipRecords, packets: 0, records: skipRecords, complete: false, recycle: true } });
        await send({ type: 'settled', path, skipRecords, counts: noFileCounts() });
        break;
      }
      // Progress at most every PROGRESS_EVERY_MS, and the last of a burst
      // soon after it (a quiet live link sends no further batch to carry it).
      let packetsSent = 0;
      let lastSent = 0;
      let latest = { packets: 0, bytes: 0 };
      let pending: NodeJS.Timeout | undefined;
      const path = m.job.path;
      const sendProgress = () => {
        pending = undefined;
        lastSent = Date.now();
        if (latest.packets > packetsSent) void send({ type: 'progress', path, packets: latest.packets - packetsSent, position: latest.bytes });
        packetsSent = latest.packets;
      };
      const { result, settled } = await dissectFile(m.job, setup.options, sink, {
        beforeFirstWrite: m.job.live?.afterPredecessor ? inbox.go : undefined,
        shouldStop: () => interrupted,
        onBatch(packets, bytes) {
          latest = { packets, bytes };
          if (pending) return;
          const wait = PROGRESS_EVERY_MS - (Date.now() - lastSent);
          if (wait <= 0) sendProgress();
          else pending = setTimeout(sendProgress, wait);
        },
        onNearLimit() {
          if (!nearLimitSent) void send({ type: 'near-limit' });
          nearLimitSent = true;
        },
        onOverLimit() {
          if (!overLimitSent) void send({ type: 'over-limit' });
          overLimitSent = true;
        },
      });
      clearTimeout(pending);
      if (result.packets > packetsSent) void send({ type: 'progress', path, packets: result.packets - packetsSent, position: 0 });
      // Reported at once: if a dissector crashes this process later, espcap knows this part was read.
      await send({ type: 'read', result });
      settling.push(settled.then((counts) => send({ type: 'settled', path: result.path, skipRecords: result.skipRecords, counts })));
      if (result.recycle || result.interrupted || result.limitReached) break;
    }
    await sink.close();
    await Promise.all(settling);
    await send({ type: 'done', sinkReport: sink.report?.() });
  } catch (err) {
    const outputClosed = err instanceof OutputClosedError;
    if (!outputClosed && !(err instanceof EspcapError)) throw err;
    // A display filter that does not compile is a wrong command line.
    const usage = (err as EspcapError).code === 'BAD_FILTER';
    await send({ type: 'fatal', message: (err as Error).message, outputClosed, usage });
  }
}

async function plan(path: string, every: number): Promise<FromWorker> {
  try {
    return { type: 'planned', path, plan: await planParts(path, every) };
  } catch (err) {
    if (!(err instanceof EspcapError)) throw err;
    return { type: 'planned', path };
  }
}

// libwireshark starts at once, before there is work: a spare started ahead of
// time (see supervisor.ts) is ready when its predecessor stops.
// (An addon that cannot load throws at once; as a rejection it is reported like any other failure.)
const engineReady = (async () => initEngine())();
engineReady.catch(() => {}); // reported by run()

run(new Inbox()).then(
  () => process.connected && process.disconnect(),
  (err) => {
    process.stderr.write(`espcap: internal error in the dissecting process: ${(err as Error).stack}\n`);
    process.exit(70);
  },
);
