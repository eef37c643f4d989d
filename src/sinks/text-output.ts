// A text stream (stdout or a file) written batch by batch, with backpressure.
import * as fs from 'node:fs';
import { Writable } from 'node:stream';
import { EspcapError } from '../errors';
import { OutputClosedError } from './sink';

export class TextOutput {
  private failure: Error | undefined;

  private constructor(private readonly stream: Writable, private readonly ownsStream: boolean, name: string) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      this.failure =
        err.code === 'EPIPE' ? new OutputClosedError('output closed') : new EspcapError(`cannot write ${name}: ${err.message}`);
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
