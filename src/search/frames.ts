// The packets of search hits read back from their original captures, by path
// and frame number, each capture first checked to be the one indexed (its
// capture_id). Captures are read forward; hits in time order ask each one
// for ascending frames, so a capture is read about once.
import { captureId } from '../capture-id';
import { FrameReader, openFrames, RawFrame } from '../engine/engine';

/** Open captures at most; the least recently used is closed (and read again from its start if asked again). */
const OPEN_CAPTURES = 32;

export interface FrameRequest {
  file: string;
  captureId: string;
  frame: number;
}

export class CaptureFrames {
  private readonly open = new Map<string, FrameReader>();
  /** Captures that cannot be used, with the reason (said once each). */
  readonly unusable = new Map<string, string>();

  /**
   * The frames asked for, by request; a request whose capture is gone,
   * changed or shorter than the frame number is left out (`missing` says why).
   */
  read(requests: FrameRequest[], missing: (request: FrameRequest, why: string) => void): Map<FrameRequest, RawFrame> {
    const found = new Map<FrameRequest, RawFrame>();
    const byFile = new Map<string, FrameRequest[]>();
    for (const request of requests) {
      const list = byFile.get(request.file);
      if (list) list.push(request);
      else byFile.set(request.file, [request]);
    }
    for (const [file, wanted] of byFile) {
      wanted.sort((a, b) => a.frame - b.frame);
      const frames = [...new Set(wanted.map((r) => r.frame))];
      let got: RawFrame[] = [];
      try {
        let reader = this.reader(file, wanted[0].captureId);
        // Behind where the capture was read to: from its start again.
        if (reader && frames[0] <= reader.position()) reader = this.reopen(file);
        if (reader) got = reader.read(frames);
      } catch (err) {
        this.forget(file, `cannot read it: ${(err as Error).message}`);
      }
      const unusable = this.unusable.get(file);
      if (unusable !== undefined) {
        for (const request of wanted) missing(request, unusable);
        continue;
      }
      const byFrame = new Map(got.map((f) => [f.frame, f]));
      for (const request of wanted) {
        const raw = byFrame.get(request.frame);
        if (raw) found.set(request, raw);
        else missing(request, `frame ${request.frame} is past the end of the capture`);
      }
    }
    return found;
  }

  close(): void {
    for (const reader of this.open.values()) reader.close();
    this.open.clear();
  }

  private reader(file: string, expectedId: string): FrameReader | undefined {
    const known = this.open.get(file);
    if (known) {
      // Most recently used last.
      this.open.delete(file);
      this.open.set(file, known);
      return known;
    }
    if (this.unusable.has(file)) return undefined;
    let id: string;
    try {
      id = captureId(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      this.unusable.set(file, code === 'ENOENT' ? 'no such file (moved or removed since it was indexed)' : (err as Error).message);
      return undefined;
    }
    if (id !== expectedId) {
      this.unusable.set(file, `changed since it was indexed (capture_id ${id}, indexed as ${expectedId})`);
      return undefined;
    }
    return this.reopen(file);
  }

  private reopen(file: string): FrameReader {
    this.open.get(file)?.close();
    this.open.delete(file);
    if (this.open.size >= OPEN_CAPTURES) {
      const [oldest, reader] = this.open.entries().next().value as [string, FrameReader];
      reader.close();
      this.open.delete(oldest);
    }
    const reader = openFrames(file);
    this.open.set(file, reader);
    return reader;
  }

  private forget(file: string, why: string): void {
    this.open.get(file)?.close();
    this.open.delete(file);
    this.unusable.set(file, why);
  }
}
