// Runs the dissection in child processes and replaces a child once it has
// grown: libwireshark 4.0 leaks ~10 MB per session reset and its per-capture
// state grows with traffic, so only a fresh process gives memory back. The new
// child resumes the same file after the last record the old one wrote.
import { ChildProcess, fork } from 'node:child_process';
import * as path from 'node:path';
import { DissectOptions, FileJob, FileResult } from './dissect-files';
import { OutputSpec, RunRequest, WorkerMessage } from './worker';
import { EspcapError, UsageError } from '../errors';
import { OutputClosedError } from '../sinks/sink';
import type { IndexCounts } from '../elasticsearch/bulk-sink';

export interface SupervisedRun {
  files: FileResult[];
  limitReached: boolean;
  interrupted: boolean;
  /** Dissecting processes started (more than one means it was recycled). */
  processes: number;
  /** Elasticsearch results, summed over the processes (indexing only). */
  indexCounts?: IndexCounts;
}

const workerScript = path.join(__dirname, 'worker.js');

type FinalMessage = Exclude<WorkerMessage, { type: 'file' } | { type: 'near-limit' }>;

/**
 * Starts a dissecting process. It initialises libwireshark at once, before
 * it has work: a successor started ahead of time takes over without delay.
 */
function spawnWorker(): ChildProcess {
  // Credentials reach the process over IPC with its work, not in its environment.
  const { ESPCAP_PASSWORD, ESPCAP_API_KEY, ...env } = process.env;
  return fork(workerScript, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env });
}

/**
 * Runs one dissecting process to its end; `onFile` gets each file result as it
 * is reported, `onNearLimit` is called when the process nears its memory limit.
 */
function runWorker(
  child: ChildProcess,
  request: RunRequest,
  onFile: (result: FileResult) => void,
  onNearLimit: () => void,
): Promise<{ final?: FinalMessage; exit: string }> {
  return new Promise((resolve) => {
    let final: FinalMessage | undefined;
    child.on('message', (m: WorkerMessage) => {
      if (m.type === 'file') onFile(m.result);
      else if (m.type === 'near-limit') onNearLimit();
      else final = m;
    });
    child.on('exit', (code, signal) => resolve({ final, exit: signal ? `signal ${signal}` : `exit code ${code}` }));
    child.send(request);
  });
}

function addCounts(a: IndexCounts | undefined, b: IndexCounts): IndexCounts {
  if (!a) return { ...b };
  return {
    indexed: a.indexed + b.indexed,
    duplicates: a.duplicates + b.duplicates,
    deadLettered: a.deadLettered + b.deadLettered,
    retries: a.retries + b.retries,
    unmappedFields: Math.max(a.unmappedFields, b.unmappedFields),
  };
}

export async function superviseDissection(
  files: string[],
  options: Omit<DissectOptions, 'maxRssBytes'> & { maxRssMb: number },
  output: OutputSpec,
): Promise<SupervisedRun> {
  const run: SupervisedRun = { files: files.map((p) => ({ path: p, packets: 0, records: 0 })), limitReached: false, interrupted: false, processes: 0 };
  let next = 0; // index of the first file not finished
  let skipRecords = 0;
  let written = 0;
  let successor: ChildProcess | undefined;
  const onInterrupt = () => (run.interrupted = true);
  process.on('SIGINT', onInterrupt);
  try {
    while (next < files.length && !run.limitReached && !run.interrupted) {
      const jobs: FileJob[] = files.slice(next).map((p, i) => ({ path: p, skipRecords: i === 0 ? skipRecords : 0 }));
      const request: RunRequest = {
        jobs,
        options: {
          ...options,
          maxPackets: options.maxPackets ? options.maxPackets - written : 0,
          maxRssBytes: options.maxRssMb * 1024 * 1024,
        },
        output,
      };
      run.processes++;
      let reported = 0;
      const child = successor ?? spawnWorker();
      successor = undefined;
      const onFile = (result: FileResult) => {
        const total = run.files[next + reported++];
        total.packets += result.packets;
        total.records = result.records;
        total.error = result.error;
        total.notCapture = result.notCapture;
        written += result.packets;
      };
      // The successor gets ready while this one finishes its work.
      const onNearLimit = () => (successor ??= spawnWorker());
      const { final, exit } = await runWorker(child, request, onFile, onNearLimit);
      if (final?.type === 'fatal') {
        if (final.outputClosed) throw new OutputClosedError(final.message);
        if (final.usage) throw new UsageError(final.message);
        throw new EspcapError(final.message);
      }
      if (!final) {
        // The process died without finishing (a crash inside a dissector): the
        // file it was on failed; carry on with the rest.
        if (next + reported >= files.length) throw new EspcapError(`the dissecting process died while flushing its output (${exit})`);
        run.files[next + reported].error = { code: 'CRASH', message: `the dissecting process died (${exit})` };
        next += reported + 1;
        skipRecords = 0;
        continue;
      }
      const { outcome } = final;
      if (final.indexCounts) run.indexCounts = addCounts(run.indexCounts, final.indexCounts);
      run.limitReached = outcome.limitReached;
      run.interrupted ||= outcome.interrupted;
      if (outcome.recycleAt) {
        // The unfinished file was reported too; it resumes in the next process.
        next += reported - 1;
        skipRecords = outcome.recycleAt.records;
      } else {
        next += reported;
        skipRecords = 0;
      }
    }
  } finally {
    process.off('SIGINT', onInterrupt);
    successor?.kill(); // started for work that did not come
  }
  return run;
}
