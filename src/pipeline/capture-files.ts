// The capture files a run reads: every file under a --dir, and what the pool
// needs to know of each before reading it (size, capture identity).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { captureId } from '../capture-id';
import { EspcapError, warn } from '../errors';
import type { PoolFile } from './worker-pool';

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

/** The files as the pool takes them: absolute paths, sizes, capture identities. */
export function describeFiles(paths: string[]): PoolFile[] {
  return paths.map((p) => {
    const full = path.resolve(p);
    return { path: full, size: fs.statSync(full, { throwIfNoEntry: false })?.size ?? 0, captureId: tryCaptureId(full) };
  });
}

function tryCaptureId(file: string): string | undefined {
  try {
    return captureId(file);
  } catch {
    return undefined; // reported when the file is opened
  }
}
