// Text outputs (the readable dump and NDJSON): their common preparation, and
// the stream (stdout or a file) they write batch by batch, with backpressure.
import * as fs from 'node:fs';
import { Writable } from 'node:stream';
import { EspcapError, UsageError, writeFailure } from '../errors';
import type { BatchView, DocumentBuilder } from '../document';
import type { OutputModule, PreparedOutput, RunShape } from './output';
import { FileCounts, NOTHING_PENDING, OutputClosedError, PacketSink } from '../sink';

/** Where a text output goes: "-" for standard output, else a file. */
export interface TextSpec {
  format: 'dump' | 'ndjson';
  target: string;
}

/**
 * Prepares a text output: a file is created (emptied) once here, and the
 * dissecting processes append to it; several of them may share a regular
 * file (or /dev/null), never a pipe, whose packets would interleave.
 */
export async function prepareText(spec: TextSpec, run: RunShape): Promise<PreparedOutput<TextSpec>> {
  if (spec.target !== '-') {
    await TextOutput.open(spec.target).close();
    if (run.workers > 1 && !fs.statSync(spec.target).isFile() && spec.target !== '/dev/null')
      throw new UsageError(`--workers above 1 needs --output to be a regular file: the packets of several files would interleave in ${spec.target}`);
  }
  return {
    spec,
    toStdout: spec.target === '-',
    skipFinished: async (files) => files,
    captureSettled: () => {},
    handDown: (open) => (spec.target === '-' ? spec : { ...spec, target: open(spec.target, 'w') }),
    report: () => false,
    close: async () => {},
  };
}

/** A sink writing text to the stream of a text output: done with a batch once the stream took it. */
export abstract class TextSink implements PacketSink {
  constructor(protected readonly out: TextOutput) {}

  abstract write(view: BatchView, documents: DocumentBuilder): Promise<void>;

  settled(): Promise<FileCounts> {
    return NOTHING_PENDING;
  }

  close(): Promise<void> {
    return this.out.close();
  }
}

/** A text output module: prepareText, and the sink that writes `spec.target` (appended to, when a file: prepareText created it). */
export function textOutput(makeSink: (out: TextOutput) => TextSink): OutputModule<TextSpec, TextSpec> {
  return {
    prepare: prepareText,
    openSink: async (spec) => makeSink(TextOutput.open(spec.target, spec.target !== '-')),
  };
}

export class TextOutput {
  private failure: Error | undefined;

  private constructor(private readonly stream: Writable, private readonly ownsStream: boolean, name: string) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') {
        this.failure = new OutputClosedError('output closed');
        return;
      }
      if (ownsStream) cutToLastWholeLine(name);
      this.failure = new EspcapError(`cannot write ${name}: ${writeFailure(err)}`);
    });
  }

  /** "-" is standard output; a path is created, or appended to with `append`. */
  static open(target: string, append = false): TextOutput {
    if (target === '-') return new TextOutput(process.stdout, false, 'standard output');
    let fd: number;
    try {
      fd = fs.openSync(target, append ? 'a' : 'w');
    } catch (err) {
      throw new EspcapError(`cannot open output ${target}: ${(err as Error).message}`);
    }
    return new TextOutput(fs.createWriteStream(target, { fd }), true, target);
  }

  async write(text: string | Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.stream.write(text)) await this.settled('drain');
    if (this.failure) throw this.failure;
  }

  /** Resolves at `event` or at an error (recorded in `failure`), leaving no listener behind. */
  private settled(event: 'drain' | 'finish'): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.stream.off(event, done);
        this.stream.off('error', done);
        resolve();
      };
      this.stream.on(event, done);
      this.stream.on('error', done);
    });
  }

  async close(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.ownsStream) {
      const finished = this.settled('finish');
      this.stream.end();
      await finished;
    } else if (this.stream.writableNeedDrain) {
      await this.settled('drain');
    }
    if (this.failure) throw this.failure;
  }
}

/**
 * After a failed write (a full disk) the file may end in part of a line:
 * cut it back to its last whole line, so that every line in it is a whole
 * document. (Several processes appending to one file each cut only a torn end.)
 */
function cutToLastWholeLine(file: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r+');
    const chunk = Buffer.alloc(64 * 1024);
    for (let end = fs.fstatSync(fd).size; ; ) {
      const start = Math.max(0, end - chunk.length);
      const read = fs.readSync(fd, chunk, 0, end - start, start);
      const newline = chunk.subarray(0, read).lastIndexOf(0x0a);
      if (newline >= 0 || start === 0) {
        fs.ftruncateSync(fd, newline >= 0 ? start + newline + 1 : 0);
        return;
      }
      end = start;
    }
  } catch {
    // the file cannot be reopened: the error about the write is what counts
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
