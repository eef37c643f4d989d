// espcap's command line: picks the mode, runs it, reports, sets the exit code.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dissectOptions, Options, parseCommandLine } from './args';
import { EspcapError, oneLine, UsageError, warn } from '../errors';
import { prepareOutput } from '../outputs';
import type { ElasticsearchChoice } from '../outputs/elasticsearch';
import type { PreparedOutput } from '../outputs/output';
import { addFileCounts, noFileCounts, OutputClosedError } from '../sink';
import { describeFiles, listCaptureCandidates } from '../pipeline/capture-files';
import { PoolRun, runPool } from '../pipeline/worker-pool';
import { checkDisplayFilter, wiresharkVersion } from '../engine/engine';
import { printInterfaces, runLiveCommand } from './live';
import { Progress, size } from './progress';

async function runFiles(options: Options, paths: string[], fromDir: boolean): Promise<number> {
  const started = process.hrtime.bigint();
  const output = await prepareOutput(options.output, { workers: options.workers, quiet: options.quiet, filter: options.filter });
  let progress: Progress | undefined;
  let skipped = 0;
  let run: PoolRun;
  try {
    const all = describeFiles(paths);
    const files = await output.skipFinished(all);
    skipped = all.length - files.length;
    // Progress only where it does not mix with the packets themselves.
    if (!options.quiet && !output.toStdout) progress = new Progress(files.length, files.reduce((n, f) => n + f.size, 0));
    progress?.start();
    let saidWhole = false;
    run = await runPool(files, {
      workers: options.workers,
      maxPackets: options.count,
      // Several processes share a large file at its session resets.
      sessionPackets: options.workers > 1 ? options.sessionPackets : 0,
      onReadWhole(file, reason) {
        if (!saidWhole && !options.quiet) warn(`${file} is read whole by one process, as ${reason}`); // said for the first such file only
        saidWhole = true;
      },
      dissect: dissectOptions(options),
      output: output.spec,
      claims: output.claims,
      onProgress: (packets, bytes) => progress?.add(packets, bytes),
      onFileRead: (file) => progress?.fileRead(file.error !== undefined && !file.notCapture),
      onFileDone: (file) => file.captureId && output.captureSettled({ ...file, captureId: file.captureId }),
    });
  } catch (err) {
    if (err instanceof OutputClosedError) return 0;
    throw err;
  } finally {
    progress?.stop();
    await output.close(); // after the resume state of every settled capture is written
  }
  return report(options, run, skipped, fromDir, output, started);
}

function report(options: Options, run: PoolRun, skipped: number, fromDir: boolean, output: PreparedOutput, started: bigint): number {
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
  const elsewhere = run.files.filter((f) => f.doneElsewhere).length;
  if (fromDir && captures === 0 && failed === 0 && skipped === 0 && elsewhere === 0) {
    warn(`no capture files found in ${run.files.length ? 'the directory' : 'an empty directory'}`);
    return 1;
  }
  const outputFailed = output.report({ packets, counts, sinkReports: run.sinkReports }, options.quiet);
  if (!options.quiet) {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const rate = (n: number) => (seconds > 0 ? n / seconds : 0);
    let summary = `${packets} packets from ${captures + failed} capture file${captures + failed === 1 ? '' : 's'} (${size(bytes)}) in ${seconds.toFixed(1)} s`;
    summary += ` (${Math.round(rate(packets))} packets/s, ${size(rate(bytes))}/s)`;
    if (options.workers > 1) summary += ` with ${options.workers} workers`;
    const { cut } = run;
    if (cut.files) summary += `, ${cut.files === 1 ? 'one file' : `${cut.files} files`} cut into ${cut.parts} parts`;
    if (skipped) summary += `, ${skipped} already indexed`;
    if (elsewhere) summary += `, ${elsewhere} done by other processes`;
    if (failed) summary += `, ${failed} failed`;
    if (run.limitReached) summary += `, stopped at --count ${options.count}`;
    if (run.interrupted) summary += ', interrupted';
    if (run.replacements) summary += `, dissecting processes restarted ${run.replacements} time${run.replacements === 1 ? '' : 's'} to bound memory`;
    warn(summary);
  }
  return failed || outputFailed ? 1 : 0;
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

/** espcap's version and the libwireshark release its addon links. */
async function printVersion(): Promise<number> {
  const { version } = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string };
  let wireshark: string;
  try {
    wireshark = `libwireshark ${wiresharkVersion()}`;
  } catch (err) {
    wireshark = (err as Error).message;
  }
  process.stdout.write(`espcap ${version} (${wireshark})\n`);
  return 0;
}

async function run(argv: string[]): Promise<number> {
  hideSecretArguments(argv);
  const commandLine = parseCommandLine(argv);
  if (commandLine.mode.kind === 'help') return 0; // printed by the parser
  if (commandLine.mode.kind === 'version') return printVersion();
  const options = commandLine as Options;
  const mode = options.mode;
  if (options.filter) {
    // Checked where only a disposable process dies: a filter libwireshark
    // crashes on would otherwise kill every dissecting process.
    const problem = await checkDisplayFilter(options.filter);
    if (problem) throw new UsageError(`invalid display filter "${options.filter}": ${problem}`);
  }
  switch (mode.kind) {
    case 'files':
      checkNotDirectories(mode.files);
      return runFiles(options, mode.files, false);
    case 'dir':
      return runFiles(options, listCaptureCandidates(mode.dir), true);
    case 'nic':
      return runLiveCommand(options, mode.nic);
    case 'list-interfaces':
      return printInterfaces();
    case 'query':
      // Loaded only here: the Elasticsearch client, which nothing else run here needs.
      return (await import('./query')).runQuery(mode, options.output as ElasticsearchChoice, options.count, options.quiet);
  }
}

export function main(argv: string[]): void {
  run(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      if (err instanceof UsageError) {
        warn(oneLine(err.message));
        process.exitCode = 2;
      } else if (err instanceof EspcapError) {
        warn(oneLine(err.message));
        process.exitCode = 1;
      } else {
        process.stderr.write(`espcap: internal error: ${(err as Error).stack}\n`);
        process.exitCode = 70;
      }
    },
  );
}
