// espcap's command line: picks the mode, runs it, reports, sets the exit code.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dissectOptions, ElasticsearchFlags, Options, parseCommandLine, USAGE } from './args';
import type { ClusterOptions } from '../elasticsearch/cluster';
import type { OutputSpec } from '../pipeline/worker';
import { EspcapError, UsageError } from '../errors';
import { addFileCounts, noFileCounts, OutputClosedError } from '../sinks/sink';
import { PoolFile, PoolRun, runPool } from '../pipeline/worker-pool';
import { TextOutput } from '../sinks/text-output';
import { captureId } from '../capture-id';
import { Progress, size } from './progress';
import type { Client } from '@elastic/elasticsearch';
import type { IngestState } from '../elasticsearch/ingest-state';

function warn(message: string): void {
  process.stderr.write(`espcap: ${message}\n`);
}

/** Every regular file under dir, recursively, in sorted path order. */
export function listCaptureCandidates(dir: string): string[] {
  let stat;
  try {
    stat = fs.statSync(dir);
  } catch (err) {
    throw new EspcapError(`cannot read directory ${dir}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (err as Error).message}`);
  }
  if (!stat.isDirectory()) throw new EspcapError(`${dir} is not a directory`);
  const found: string[] = [];
  const walk = (at: string) => {
    let entries;
    try {
      entries = fs.readdirSync(at, { withFileTypes: true });
    } catch (err) {
      warn(`skipping ${at}: ${(err as Error).message}`);
      return;
    }
    for (const entry of entries) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() || (entry.isSymbolicLink() && fs.statSync(full, { throwIfNoEntry: false })?.isFile())) found.push(full);
    }
  };
  walk(dir);
  return found.sort();
}

/**
 * Connects to Elasticsearch once, fails fast if it cannot, and installs the
 * index template; the dissecting processes then index with the same settings.
 */
async function prepareElasticsearch(flags: ElasticsearchFlags, chunk: number, quiet: boolean): Promise<OutputSpec> {
  const { parseNodes, readSecretFile, createClient, checkCluster, describeError } = await import('../elasticsearch/cluster');
  const { indexTemplate, TEMPLATE_NAME } = await import('../elasticsearch/mapping');
  const cluster: ClusterOptions = {
    nodes: parseNodes(flags.node),
    username: flags.username,
    password: flags.passwordFile ? readSecretFile('--password-file', flags.passwordFile) : process.env.ESPCAP_PASSWORD,
    apiKey: flags.apiKeyFile ? readSecretFile('--api-key-file', flags.apiKeyFile) : (flags.apiKey ?? process.env.ESPCAP_API_KEY),
    caCert: flags.caCert ? readSecretFile('--ca-cert', flags.caCert) : undefined,
    verifyTls: !flags.insecure,
    requestTimeoutMs: 60000,
  };
  if (flags.username && cluster.password === undefined) throw new UsageError('--username needs a password: set ESPCAP_PASSWORD or give --password-file');
  if (flags.insecure) warn('warning: --insecure: TLS certificates are not verified; anyone on the path can read and change what is indexed');
  const client = createClient(cluster);
  let info;
  try {
    info = await checkCluster(client, cluster.nodes);
    try {
      await client.indices.putIndexTemplate({ name: TEMPLATE_NAME, ...indexTemplate() } as never);
    } catch (err) {
      throw new EspcapError(`Elasticsearch: cannot install the index template ${TEMPLATE_NAME}: ${describeError(err)}`);
    }
    if (!quiet) warn(`indexing into Elasticsearch ${info.version} at ${cluster.nodes.join(',')}`);
  } finally {
    await client.close();
  }
  return {
    format: 'elasticsearch',
    cluster,
    bulk: {
      chunk,
      maxBytes: flags.bulkMb * 1024 * 1024,
      inflight: flags.bulkInflight,
      retryDeadlineMs: flags.retryDeadlineSeconds * 1000,
      deadLetterPath: path.resolve(flags.deadLetter),
      unsignedLong: info.unsignedLong,
      refreshInterval: flags.refreshInterval,
    },
  };
}

interface Indexing {
  output: OutputSpec;
  client: Client;
  state: IngestState;
  describeError: (err: unknown) => string;
}

/** Connects the run's own client (for the resume state) after prepareElasticsearch. */
async function openIndexing(options: Options): Promise<Indexing> {
  const output = await prepareElasticsearch(options.elasticsearch!, options.chunk, options.quiet);
  const { createClient, describeError } = await import('../elasticsearch/cluster');
  const { IngestState } = await import('../elasticsearch/ingest-state');
  const client = createClient((output as { cluster: ClusterOptions }).cluster);
  return { output, client, state: new IngestState(client, options.filter, options.elasticsearch!.retryDeadlineSeconds * 1000), describeError };
}

/** Several processes append to one --output file: fine for a regular file or /dev/null, not for a pipe. */
function checkSharedOutput(target: string, workers: number): void {
  if (workers < 2) return;
  const stat = fs.statSync(target);
  if (!stat.isFile() && target !== '/dev/null')
    throw new UsageError(`--workers above 1 needs --output to be a regular file: the packets of several files would interleave in ${target}`);
}

async function runFiles(options: Options, paths: string[], fromDir: boolean): Promise<number> {
  const started = process.hrtime.bigint();
  let indexing: Indexing | undefined;
  let output: OutputSpec;
  if (options.elasticsearch) {
    indexing = await openIndexing(options);
    output = indexing.output;
  } else {
    const target = options.output ?? '-';
    // Create (truncate) the output once; the dissecting processes append to it.
    if (target !== '-') {
      await TextOutput.open(target).close();
      checkSharedOutput(target, options.workers);
    }
    output = { format: options.output ? 'ndjson' : 'dump', target };
  }
  try {
    const files: PoolFile[] = paths.map((p) => {
      const full = path.resolve(p);
      return { path: full, size: fs.statSync(full, { throwIfNoEntry: false })?.size ?? 0, captureId: tryCaptureId(full) };
    });
    let todo = files;
    let skipped = 0;
    if (indexing && options.resume) {
      const ids = files.flatMap((f) => (f.captureId ? [f.captureId] : []));
      let finished: Set<string>;
      try {
        finished = await indexing.state.finished(ids);
      } catch (err) {
        throw new EspcapError(`Elasticsearch: cannot read which files are already indexed: ${indexing.describeError(err)}`);
      }
      todo = files.filter((f) => !(f.captureId && finished.has(f.captureId)));
      skipped = files.length - todo.length;
      if (skipped && !options.quiet) warn(`${skipped} of ${files.length} files already fully indexed by an earlier run: skipped (--no-resume indexes them again)`);
    }
    return await dissectAndReport(options, todo, skipped, fromDir, output, indexing, started);
  } finally {
    await indexing?.client.close();
  }
}

function tryCaptureId(file: string): string | undefined {
  try {
    return captureId(file);
  } catch {
    return undefined; // reported when the file is opened
  }
}

async function dissectAndReport(
  options: Options,
  files: PoolFile[],
  skipped: number,
  fromDir: boolean,
  output: OutputSpec,
  indexing: Indexing | undefined,
  started: bigint,
): Promise<number> {
  // Progress only where it does not mix with the packets themselves.
  const progress = options.quiet || output.format !== 'elasticsearch' && output.target === '-' ? undefined : new Progress(files.length, files.reduce((n, f) => n + f.size, 0));
  const recording: Promise<void>[] = [];
  let stateWarned = false;
  let run: PoolRun;
  progress?.start();
  try {
    run = await runPool(files, {
      workers: options.workers,
      maxPackets: options.count,
      dissect: dissectOptions(options),
      output,
      onProgress: (packets, bytes) => progress?.add(packets, bytes),
      onFileRead: (file) => progress?.fileRead(file.error !== undefined && !file.notCapture),
      onFileDone: (file) => {
        if (!indexing || !file.captureId || file.counts.deadLettered) return;
        const { indexed, duplicates } = file.counts;
        const recorded = indexing.state.record({ captureId: file.captureId, path: file.path, size: file.size, packets: file.packets, indexed, duplicates });
        recording.push(
          recorded.catch((err) => {
            if (!stateWarned) warn(`warning: cannot record ${file.path} as indexed (a rerun will index it again): ${indexing.describeError(err)}`);
            stateWarned = true;
          }),
        );
      },
    });
  } catch (err) {
    if (err instanceof OutputClosedError) return 0;
    throw err;
  } finally {
    progress?.stop();
    await Promise.all(recording);
  }
  return report(options, run, skipped, fromDir, output, started);
}

function report(options: Options, run: PoolRun, skipped: number, fromDir: boolean, output: OutputSpec, started: bigint): number {
  let failed = 0;
  let packets = 0;
  let captures = 0;
  let bytes = 0;
  const counts = noFileCounts();
  for (const file of run.files) {
    if (!file.started) continue;
    packets += file.packets;
    addFileCounts(counts, file.counts);
    if (file.notCapture && fromDir) {
      warn(`skipped ${file.path}: not a capture file`);
      continue;
    }
    bytes += file.size;
    if (file.error) {
      failed++;
      const before = file.records > 0 ? ` (after ${file.records} packets)` : '';
      warn(`${file.path}: ${file.error.message}${before}`);
    } else captures++;
  }
  if (fromDir && captures === 0 && failed === 0 && skipped === 0) {
    warn(`no capture files found in ${run.files.length ? 'the directory' : 'an empty directory'}`);
    return 1;
  }
  let indexingFailed = false;
  if (output.format === 'elasticsearch') {
    const notIndexed = packets - counts.indexed - counts.duplicates - counts.deadLettered;
    const { retries, unmappedFields } = run.indexCounts ?? { retries: 0, unmappedFields: 0 };
    if (counts.deadLettered) warn(`${counts.deadLettered} documents refused by Elasticsearch are in ${output.bulk.deadLetterPath}, with the reasons`);
    if (unmappedFields) warn(`${unmappedFields} fields beyond the per-index budget are kept in _source but not searchable`);
    if (!options.quiet || counts.deadLettered || notIndexed)
      warn(`Elasticsearch: ${packets} packets read, ${counts.indexed} indexed, ${counts.duplicates} duplicates (already indexed), ${counts.deadLettered} dead-lettered, ${notIndexed} not sent; ${retries} retries`);
    indexingFailed = packets !== counts.indexed + counts.duplicates;
  }
  if (!options.quiet) {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const rate = (n: number) => (seconds > 0 ? n / seconds : 0);
    let summary = `${packets} packets from ${captures + failed} capture file${captures + failed === 1 ? '' : 's'} (${size(bytes)}) in ${seconds.toFixed(1)} s`;
    summary += ` (${Math.round(rate(packets))} packets/s, ${size(rate(bytes))}/s)`;
    if (options.workers > 1) summary += ` with ${options.workers} workers`;
    if (skipped) summary += `, ${skipped} already indexed`;
    if (failed) summary += `, ${failed} failed`;
    if (run.limitReached) summary += `, stopped at --count ${options.count}`;
    if (run.interrupted) summary += ', interrupted';
    const restarts = run.processes - Math.min(options.workers, run.files.length);
    if (restarts > 0) summary += `, dissecting processes restarted ${restarts} time${restarts === 1 ? '' : 's'} to bound memory`;
    warn(summary);
  }
  return failed || indexingFailed ? 1 : 0;
}

/**
 * An API key given with --api-key is blanked from espcap's command line as
 * soon as it is read, so that ps and /proc show it only for those first
 * moments (--api-key-file and ESPCAP_API_KEY never show it at all).
 */
function hideSecretArguments(argv: string[]): void {
  let next = false;
  const shown = argv.map((arg) => {
    if (next) {
      next = false;
      return '***';
    }
    next = arg === '--api-key';
    return arg.startsWith('--api-key=') ? '--api-key=***' : arg;
  });
  if (shown.some((arg, i) => arg !== argv[i])) process.title = ['espcap', ...shown].join(' ');
}

/** --file names files: a directory there is a mistake for --dir. */
function checkNotDirectories(files: string[]): void {
  for (const file of files)
    if (fs.statSync(file, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--file ${file} is a directory: use --dir to read the captures in it`);
}

async function run(argv: string[]): Promise<number> {
  hideSecretArguments(argv);
  const options = parseCommandLine(argv);
  const mode = options.mode;
  switch (mode.kind) {
    case 'help':
      process.stdout.write(USAGE + '\n');
      return 0;
    case 'files':
      checkNotDirectories(mode.files);
      return runFiles(options, mode.files, false);
    case 'dir':
      return runFiles(options, listCaptureCandidates(mode.dir), true);
    case 'nic': {
      const { runLiveCommand } = await import('./live');
      const prepare = async (): Promise<OutputSpec> =>
        options.elasticsearch
          ? prepareElasticsearch(options.elasticsearch, options.chunk, options.quiet)
          : { format: options.output ? 'ndjson' : 'dump', target: options.output ?? '-' };
      return runLiveCommand(options, mode.nic, prepare);
    }
    case 'list-interfaces':
      return (await import('./live')).printInterfaces();
  }
}

export function main(argv: string[]): void {
  run(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      if (err instanceof UsageError) {
        warn(`${err.message}`);
        process.exitCode = 2;
      } else if (err instanceof EspcapError) {
        warn(err.message);
        process.exitCode = 1;
      } else {
        process.stderr.write(`espcap: internal error: ${(err as Error).stack}\n`);
        process.exitCode = 70;
      }
    },
  );
}
