// Entry point of a dissecting process, started by supervisor.ts. It owns one
// epan session for its whole life and writes its documents itself.
import { initEngine } from '../engine/engine';
import type { ClusterOptions } from '../elasticsearch/cluster';
import type { BulkOptions, IndexCounts } from '../elasticsearch/bulk-sink';
import { EspcapError } from '../errors';
import { DumpSink } from '../sinks/dump';
import { NdjsonSink } from '../sinks/ndjson';
import { OutputClosedError, PacketSink } from '../sinks/sink';
import { TextOutput } from '../sinks/text-output';
import { dissectFiles, DissectOptions, DissectOutcome, FileJob, FileResult } from './dissect-files';

export type OutputSpec =
  | {
      format: 'dump' | 'ndjson';
      /** "-" for standard output, else a file the supervisor already created. */
      target: string;
    }
  | { format: 'elasticsearch'; cluster: ClusterOptions; bulk: BulkOptions };

export interface RunRequest {
  jobs: FileJob[];
  options: DissectOptions;
  output: OutputSpec;
}

export type WorkerMessage =
  | { type: 'file'; result: FileResult }
  | { type: 'near-limit' }
  | { type: 'outcome'; outcome: DissectOutcome; indexCounts?: IndexCounts }
  | { type: 'fatal'; message: string; outputClosed: boolean; usage: boolean };

async function openSink(output: OutputSpec): Promise<PacketSink> {
  if (output.format === 'elasticsearch') {
    // Loaded only here: printing or writing NDJSON needs no Elasticsearch client.
    const { createClient } = await import('../elasticsearch/cluster');
    const { ElasticsearchSink } = await import('../elasticsearch/bulk-sink');
    return new ElasticsearchSink(createClient(output.cluster), output.bulk);
  }
  const out = TextOutput.open(output.target, output.target !== '-');
  return output.format === 'dump' ? new DumpSink(out) : new NdjsonSink(out);
}

async function run(request: RunRequest): Promise<WorkerMessage> {
  let interrupted = false;
  // Ctrl-C reaches the whole process group: finish the current batch, flush, report.
  process.on('SIGINT', () => (interrupted = true));
  process.on('SIGTERM', () => (interrupted = true));
  try {
    await engineReady;
    const sink = await openSink(request.output);
    // Each file is reported as soon as it is done, so that if a dissector
    // crashes this process, the supervisor knows which file was at fault.
    const report = (result: FileResult) => process.send!({ type: 'file', result } satisfies WorkerMessage);
    const nearLimit = () => process.send!({ type: 'near-limit' } satisfies WorkerMessage);
    const outcome = await dissectFiles(request.jobs, request.options, sink, () => interrupted, report, nearLimit);
    await sink.close();
    return { type: 'outcome', outcome, indexCounts: (sink as { counts?: IndexCounts }).counts };
  } catch (err) {
    const outputClosed = err instanceof OutputClosedError;
    if (!outputClosed && !(err instanceof EspcapError)) throw err;
    // A display filter that does not compile is a wrong command line.
    const usage = (err as EspcapError).code === 'BAD_FILTER';
    return { type: 'fatal', message: (err as Error).message, outputClosed, usage };
  }
}

// libwireshark starts at once, before there is work: a successor started
// ahead of time (see supervisor.ts) is ready when its predecessor stops.
const engineReady = initEngine();
engineReady.catch(() => {}); // reported by run()

process.once('message', (request: RunRequest) => {
  run(request).then(
    (reply) => process.send!(reply, () => process.disconnect()),
    (err) => {
      process.stderr.write(`espcap: internal error in the dissecting process: ${(err as Error).stack}\n`);
      process.exit(70);
    },
  );
});
