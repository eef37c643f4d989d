// A capture's identity for document ids: the same file (wherever it lies and
// whatever its name or date) gives the same id, so indexing it again finds
// its documents already there.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';

const SAMPLE = 1 << 20;

/** 20 hex digits of SHA-256 over the file size, its first MiB and its last MiB. */
export function captureId(path: string): string {
  const fd = fs.openSync(path, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const hash = createHash('sha256').update(String(size));
    const buf = Buffer.allocUnsafe(Math.min(SAMPLE, size));
    hash.update(buf.subarray(0, fs.readSync(fd, buf, 0, buf.length, 0)));
    if (size > SAMPLE) hash.update(buf.subarray(0, fs.readSync(fd, buf, 0, buf.length, Math.max(SAMPLE, size - SAMPLE))));
    return hash.digest('hex').slice(0, 20);
  } finally {
    fs.closeSync(fd);
  }
}
