// Where the tests find the program and the captures.
import * as fs from 'node:fs';
import * as path from 'node:path';

export const repoRoot = path.join(__dirname, '..', '..', '..');
export const espcapBin = path.join(repoRoot, 'bin', 'espcap.js');
export const testPcaps = path.join(repoRoot, 'test_pcaps');
/** The shared corpus of real captures; ESPCAP_CORPUS overrides. */
export const corpusDir = process.env.ESPCAP_CORPUS ?? path.join(repoRoot, '..', 'shared', 'pcaps', 'corpus');

export interface CorpusEntry {
  file: string;
  path: string;
  /** Packet count from the manifest, or null where the manifest says unreadable. */
  packets: number | null;
}

export function corpusEntries(): CorpusEntry[] {
  const manifest = fs.readFileSync(path.join(corpusDir, 'MANIFEST.tsv'), 'utf8').trim().split('\n').slice(1);
  return manifest.map((line) => {
    const cols = line.split('\t');
    return { file: cols[0], path: path.join(corpusDir, cols[0]), packets: /^\d+$/.test(cols[4]) ? Number(cols[4]) : null };
  });
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(require('node:os').tmpdir(), `espcap-${prefix}-`));
}
