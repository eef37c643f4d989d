// espcap's command line: picks the mode, runs it, reports, sets the exit code.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Options, parseCommandLine, USAGE } from './args';
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

async function runFiles(options: Options, files: string[], fromDir: boolean): Promise<number> {
  const started = process.hrtime.bigint();
  const target = options.output ?? '-';
  // Create (truncate) the output once; the dissecting processes append to it.
  if (target !== '-') await TextOutput.open(target).close();
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
      },
      { format: options.output ? 'ndjson' : 'dump', target },
      options.resolveNames,
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
  return failed ? 1 : 0;
}

async function run(argv: string[]): Promise<number> {
  const options = parseCommandLine(argv);
  const mode = options.mode;
  if (options.node && mode.kind !== 'help') throw new EspcapError('indexing into Elasticsearch (--node) is not available in this version yet');
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
