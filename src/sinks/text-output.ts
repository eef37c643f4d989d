// A text stream (stdout or a file) written batch by batch, with backpressure.
import * as fs from 'node:fs';
import { Writable } from 'node:stream';
import { EspcapError, writeFailure } from '../errors';
import { OutputClosedError } from './sink';

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
