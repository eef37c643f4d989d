// espcap --nic and --list-interfaces: runs the capture (pipeline/live.ts) and
// reports what was captured, dissected and dropped, as it goes and at the end.
import { randomBytes } from 'node:crypto';
import { dissectOptions, Options } from './args';
import { listInterfaces } from '../engine/live-capture';
import { warn } from '../errors';
import { prepareOutput } from '../outputs';
import type { PreparedOutput } from '../outputs/output';
import { OutputClosedError } from '../sink';
import { LiveResult, LiveRun, LiveStatus } from '../pipeline/live';

/** The interfaces, a line each; a reader that stops early (| head) is no error. */
export function printInterfaces(): Promise<number> {
  let text = '';
  for (const nic of listInterfaces()) {
    const state = [nic.up ? 'up' : 'down', nic.running ? 'running' : '', nic.loopback ? 'loopback' : ''].filter(Boolean).join(', ');
    const about = [nic.description, nic.addresses.join(' ')].filter(Boolean).join('; ');
    text += `${nic.name}\t(${state})${about ? `\t${about}` : ''}\n`;
  }
  return new Promise((resolve, reject) => {
    process.stdout.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' ? resolve(0) : reject(err)));
    process.stdout.write(text, () => resolve(0));
  });
}

/** One status line: on a terminal redrawn in place, in a log a line every 10 s. */
function statusLine(s: LiveStatus, seconds: number): string {
  const rate = seconds > 0 ? Math.round(s.captured / seconds) : 0;
  return (
    `captured ${s.captured} (${rate}/s), dissected ${s.dissected}; dropped: ${s.kernelDrops} by the kernel, ` +
    `${s.interfaceDrops} by the interface, ${s.queueDrops} by espcap; queued ${(s.queuedBytes / 1e6).toFixed(1)} MB`
  );
}

function statsJson(s: LiveStatus): string {
  return JSON.stringify({
    '@timestamp': new Date().toISOString(),
    captured: s.captured,
    dissected: s.dissected,
    kernel_received: s.kernelReceived,
    kernel_drops: s.kernelDrops,
    interface_drops: s.interfaceDrops,
    espcap_drops: s.queueDrops,
    queued_bytes: s.queuedBytes,
    capture_cpu_seconds: captureCpuSeconds(),
    workers: s.workers.map((w) => ({
      captured: w.captured,
      dissected: w.dissected,
      espcap_drops: w.queueDrops,
      queued_bytes: w.queuedBytes,
      processes: w.processes,
      crashes: w.crashes.length,
    })),
  });
}

/** CPU time of this process (capturing, hashing and handing packets over; no dissection), in seconds. */
function captureCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return Math.round((user + system) / 1000) / 1000;
}

export async function runLiveCommand(options: Options, nic: string): Promise<number> {
  const started = Date.now();
  const output = await prepareOutput(options.output, { workers: 1, quiet: options.quiet, filter: options.filter });
  let result: LiveResult;
  let drawn = false;
  try {
    const live = LiveRun.open(
      {
        interfaceName: nic,
        testSource: options.live.testSource,
        bpf: options.bpf,
        snaplen: options.live.snaplen,
        promisc: options.live.promisc,
        bufferBytes: options.live.bufferMb * 1024 * 1024,
        maxPackets: options.count,
        user: options.live.user,
        workers: options.workers,
        dissect: { ...dissectOptions(options), dissectOnly: false },
        runId: randomBytes(10).toString('hex'),
      },
      output,
    );
    if (!options.quiet && live.workerCount < options.workers)
      warn(`${nic} has link type ${live.capture.linkType}, whose flows espcap does not tell apart: one dissecting process takes every packet`);
    if (!options.quiet) {
      const by = live.workerCount > 1 ? `, ${live.workerCount} dissecting processes sharing it by flow` : '';
      warn(`capturing on ${nic}${options.bpf ? ` (BPF: ${options.bpf})` : ''}${by}${live.account ? `, dissecting as ${options.live.user}` : ''}; Ctrl-C to stop`);
    }
    const interactive = !options.quiet && process.stderr.isTTY && !output.toStdout;
    let lastLine = started;
    let lastStats = Date.now();
    result = await live.run((status) => {
      const now = Date.now();
      const seconds = (now - started) / 1000;
      if (interactive) {
        process.stderr.write(`\r\x1b[K${statusLine(status, seconds).slice(0, (process.stderr.columns || 80) - 1)}`);
        drawn = true;
      } else if (!options.quiet && !output.toStdout && now - lastLine >= 10000) {
        warn(statusLine(status, seconds));
        lastLine = now;
      }
      if (options.live.statsIntervalSeconds && now - lastStats >= options.live.statsIntervalSeconds * 1000) {
        process.stderr.write(statsJson(status) + '\n');
        lastStats = now;
      }
    });
  } catch (err) {
    if (err instanceof OutputClosedError) return 0;
    throw err;
  } finally {
    if (drawn) process.stderr.write('\r\x1b[K');
    await output.close();
  }
  return report(options, nic, result, output, (Date.now() - started) / 1000);
}

function report(options: Options, nic: string, run: LiveResult, output: PreparedOutput, seconds: number): number {
  const s = run.status;
  if (options.live.statsIntervalSeconds) process.stderr.write(statsJson(s) + '\n');
  const crashes = s.workers.flatMap((w) => w.crashes.map((how) => ({ worker: w, how })));
  for (const { worker, how } of crashes) {
    const which = s.workers.length > 1 ? ` of worker ${s.workers.indexOf(worker) + 1}` : '';
    warn(`a dissecting process${which} died (${how}); the packets it had not written are lost and counted below`);
  }
  const outputFailed = output.report({ packets: s.dissected, counts: run.counts, sinkReports: run.sinkReports }, options.quiet);
  if (!options.quiet) {
    let summary = `${s.captured} packets captured on ${nic} in ${seconds.toFixed(1)} s, ${s.dissected} dissected; dropped: ${s.kernelDrops} by the kernel, ${s.interfaceDrops} by the interface, ${s.queueDrops} by espcap`;
    if (options.count && s.captured >= options.count) summary += `, stopped at --count ${options.count}`;
    if (run.interrupted) summary += ', interrupted';
    const replaced = s.workers.reduce((n, w) => n + w.replacements, 0);
    if (replaced > 0) summary += `, dissecting process replaced ${replaced} time${replaced === 1 ? '' : 's'} to bound memory`;
    warn(summary);
    if (s.workers.length > 1)
      s.workers.forEach((w, i) =>
        warn(
          `  worker ${i + 1} of ${s.workers.length}: ${w.captured} packets, ${w.dissected} dissected, ${w.queueDrops} dropped by espcap` +
            (w.processes > 1 ? `, ${w.processes} processes` : ''),
        ),
      );
  }
  return crashes.length > 0 || outputFailed ? 1 : 0;
}
