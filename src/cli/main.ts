// espcap's command line: picks the mode, runs it, reports, sets the exit code.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ElasticsearchFlags, Options, parseCommandLine, USAGE } from './args';
import type { ClusterOptions } from '../elasticsearch/cluster';
import type { OutputSpec } from '../pipeline/worker';
import { EspcapError, UsageError } from '../errors';
import { OutputClosedError } from '../sinks/sink';
import { superviseDissection, SupervisedRun } from '../pipeline/supervisor';
import { TextOutput } from '../sinks/text-output';

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

async function runFiles(options: Options, files: string[], fromDir: boolean): Promise<number> {
  const started = process.hrtime.bigint();
  let output: OutputSpec;
  if (options.elasticsearch) {
    output = await prepareElasticsearch(options.elasticsearch, options.chunk, options.quiet);
  } else {
    const target = options.output ?? '-';
    // Create (truncate) the output once; the dissecting processes append to it.
    if (target !== '-') await TextOutput.open(target).close();
    output = { format: options.output ? 'ndjson' : 'dump', target };
  }
  let run: SupervisedRun;
  try {
    run = await superviseDissection(
      files.map((f) => path.resolve(f)),
      {
        filter: options.filter,
        maxBytes: options.maxBytes,
        sessionPackets: options.sessionPackets,
        maxPackets: options.count,
        maxRssMb: options.workerMaxRssMb,
        dissectOnly: options.dissectOnly,
        needsCaptureId: output.format === 'elasticsearch',
      },
      output,
    );
  } catch (err) {
    if (err instanceof OutputClosedError) return 0;
    throw err;
  }

  let failed = 0;
  let packets = 0;
  let captures = 0;
  for (const file of run.files) {
    packets += file.packets;
    if (file.notCapture && fromDir) {
      warn(`skipped ${file.path}: not a capture file`);
      continue;
    }
    if (file.error) {
      failed++;
      const before = file.records > 0 ? ` (after ${file.records} packets)` : '';
      warn(`${file.path}: ${file.error.message}${before}`);
    } else captures++;
  }
  if (fromDir && captures === 0 && failed === 0) {
    warn(`no capture files found in ${files.length ? 'the directory' : 'an empty directory'}`);
    return 1;
  }
  const counts = run.indexCounts;
  if (counts) {
    const notIndexed = packets - counts.indexed - counts.duplicates - counts.deadLettered;
    if (counts.deadLettered) warn(`${counts.deadLettered} documents refused by Elasticsearch are in ${(output as { bulk: { deadLetterPath: string } }).bulk.deadLetterPath}, with the reasons`);
    if (counts.unmappedFields) warn(`${counts.unmappedFields} fields beyond the per-index budget are kept in _source but not searchable`);
    if (!options.quiet || counts.deadLettered || notIndexed)
      warn(`Elasticsearch: ${packets} packets read, ${counts.indexed} indexed, ${counts.duplicates} duplicates (already indexed), ${counts.deadLettered} dead-lettered, ${notIndexed} not sent; ${counts.retries} retries`);
  }
  const indexingFailed = counts !== undefined && packets !== counts.indexed + counts.duplicates;
  if (!options.quiet) {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const rate = seconds > 0 ? Math.round(packets / seconds) : 0;
    let summary = `${packets} packets from ${captures + failed} capture file${captures + failed === 1 ? '' : 's'} in ${seconds.toFixed(1)} s (${rate} packets/s)`;
    if (failed) summary += `, ${failed} failed`;
    if (run.limitReached) summary += `, stopped at --count ${options.count}`;
    if (run.interrupted) summary += ', interrupted';
    if (run.processes > 1) summary += `, dissecting process restarted ${run.processes - 1} time${run.processes === 2 ? '' : 's'} to bound memory`;
    warn(summary);
  }
  return failed || indexingFailed ? 1 : 0;
}

async function run(argv: string[]): Promise<number> {
  const options = parseCommandLine(argv);
  const mode = options.mode;
  switch (mode.kind) {
    case 'help':
      process.stdout.write(USAGE + '\n');
      return 0;
    case 'files':
      return runFiles(options, mode.files, false);
    case 'dir':
      return runFiles(options, listCaptureCandidates(mode.dir), true);
    case 'nic':
    case 'list-interfaces':
      throw new EspcapError('live capture (--nic, --list-interfaces) is not available in this version yet');
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
