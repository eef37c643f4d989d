// Running espcap and tshark the way a user would, and reading what they print.
import { execFile, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as readline from 'node:readline';
import { CorpusEntry, corpusEntries, espcapBin } from './paths';

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function espcap(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Run {
  const r = spawnSync(process.execPath, [espcapBin, ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
    input: options.input,
    env: options.env ?? process.env,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** espcap run in the background, so that the test can serve or watch it meanwhile. */
export function espcapAsync(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): { pid: number; done: Promise<Run> } {
  const child = spawn(process.execPath, [espcapBin, ...args], { env: options.env ?? process.env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<Run>((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
  return { pid: child.pid!, done };
}

export type Doc = Record<string, any>;

export function parseNdjson(text: string): Doc[] {
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l));
}

/** Streams an NDJSON file, calling `each` per document (for outputs too big to hold). */
export async function forEachDocument(file: string, each: (doc: Doc, line: string) => void): Promise<void> {
  const lines = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  for await (const line of lines) if (line) each(JSON.parse(line), line);
}

/** Lines tshark prints (stdout) for a capture; tshark's warnings are ignored. */
export function tshark(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    // Times in UTC, whatever the machine's zone.
    execFile('tshark', ['-n', ...args], { maxBuffer: 1 << 30, encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } }, (err, stdout, stderr) => {
      // tshark exits non-zero on a damaged capture after printing its good
      // packets ('The file "..." appears to be damaged', '... cut short'): that
      // is a reference. The code depends on the release (4.0: 2; 4.4: 2, or 3
      // for a file it cannot open; 4.6: 14 and 3). Any other failure (a
      // missing file, a bad filter or field) is not.
      const code = (err as { code?: unknown } | null)?.code;
      const damaged = typeof code === 'number' && code > 1 && /tshark: The file ".*"/.test(stderr) && !/doesn't exist/.test(stderr);
      if (err && !damaged) reject(new Error(`tshark ${args.join(' ')}: ${stderr.replace(/^Running as user.*\n/, '').trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

const AGGREGATOR = '\x1f';

/**
 * `tshark -T fields` for the given fields: one row per packet, one list of
 * values per field (all occurrences, in tree order).
 */
export async function tsharkFields(file: string, fields: string[], extra: string[] = []): Promise<string[][][]> {
  // Occurrences joined by a byte no field value holds (a URI or a Call-ID may hold '|' or ',').
  const out = await tshark(['-r', file, ...extra, '-T', 'fields', '-E', `aggregator=${AGGREGATOR}`, ...fields.flatMap((f) => ['-e', f])]);
  // One line per packet, even when every field is empty; only the final newline ends the list.
  const lines = out.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const value = tsharkEscapesBackslash() ? unescapeField : (v: string) => v;
  return lines.map((line) => line.split('\t').map((cell) => (cell === '' ? [] : cell.split(AGGREGATOR).map(value))));
}

/** The release of the tshark on the PATH, as [major, minor]. */
let release: [number, number] | undefined;
export function tsharkRelease(): [number, number] {
  if (release) return release;
  const m = /TShark \(Wireshark\) (\d+)\.(\d+)/.exec(spawnSync('tshark', ['--version'], { encoding: 'utf8' }).stdout);
  if (!m) throw new Error('tshark --version: no release found');
  return (release = [Number(m[1]), Number(m[2])]);
}

// tshark -T fields writes control characters as C escapes (\t, \n, ...);
// from 4.4 on it escapes the backslash too, so its values can be read back.
function tsharkEscapesBackslash(): boolean {
  const [major, minor] = tsharkRelease();
  return major > 4 || (major === 4 && minor >= 4);
}

const C_ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };
function unescapeField(v: string): string {
  return v.includes('\\') ? v.replace(/\\([bfnrtv\\])/g, (_, c: string) => C_ESCAPES[c]) : v;
}

/** Runs async jobs with a bounded concurrency. */
export async function inParallel<T>(items: T[], limit: number, job: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: limit }, async () => {
    while (next < items.length) await job(items[next++]);
  });
  await Promise.all(workers);
}

/**
 * The corpus captures the manifest calls readable (tshark 4.0 reads them to
 * the end) that this release's wiretap reads too, and those it does not: 4.4
 * and later refuse pcapng time-stamp resolutions beyond 2^63 or 10^19.
 * capinfos (of the same release as tshark) reads every file in one process
 * and names each one it fails on.
 */
export function corpusByThisTshark(): { readable: CorpusEntry[]; refused: CorpusEntry[] } {
  const candidates = corpusEntries().filter((e) => e.packets !== null && !e.file.startsWith('bad_'));
  const r = spawnSync('capinfos', ['-c', '-M', '-T', '-r', ...candidates.map((e) => e.path)], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.error) throw r.error;
  const refused = (e: CorpusEntry) => r.stderr.includes(`"${e.path}"`);
  return { readable: candidates.filter((e) => !refused(e)), refused: candidates.filter(refused) };
}

export const readableByThisTshark = (): CorpusEntry[] => corpusByThisTshark().readable;
