// Damaged and hostile captures: a one-line error naming the file and the
// problem, a non-zero exit, no crash or hang, and every packet before the
// damage still written (as many as tshark reads from the same file).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CorpusEntry, corpusEntries, tempDir } from './support/paths';
import { corpusByThisTshark, espcap, inParallel, parseNdjson, tshark, tsharkRelease } from './support/programs';

const broken = corpusEntries().filter((e) => e.packets === null || e.file.startsWith('bad_'));

test('the corpus has the damaged captures this test is about', () => {
  assert.ok(broken.filter((e) => e.file.startsWith('bad_')).length >= 6);
});

async function damagedLikeTshark(entry: CorpusEntry) {
  const run = espcap(['--file', entry.path, '--output', '-']);
  const docs = parseNdjson(run.stdout);
  const tsharkPackets = (await tshark(['-r', entry.path, '-T', 'fields', '-e', 'frame.number'])).split('\n').filter(Boolean).length;

  assert.equal(run.status, 1, run.stderr);
  const errors = run.stderr.split('\n').filter((l) => l.startsWith(`espcap: ${entry.path}: `));
  assert.equal(errors.length, 1, `expected one error line naming the file:\n${run.stderr}`);
  assert.ok(errors[0].length > `espcap: ${entry.path}: `.length + 5, 'the error says what is wrong');
  assert.doesNotMatch(run.stderr, /^\s+at /m, 'no stack trace');
  assert.equal(docs.length, tsharkPackets, 'packets before the damage');
  assert.deepEqual(
    docs.map((d) => d.frame_number),
    docs.map((_, i) => i + 1),
  );
}

for (const entry of broken) {
  test(`${entry.file}: one-line error, non-zero exit, the good packets before the damage`, () => damagedLikeTshark(entry));
}

test('captures the manifest reads (tshark 4.0) but this release refuses: as damaged as tshark finds them', async () => {
  const { refused } = corpusByThisTshark();
  // 4.0 and 4.2 read them all; 4.4 and 4.6 refuse the two pcapng time-stamp resolutions past 2^63 and 10^19.
  const [major, minor] = tsharkRelease();
  if (major === 4 && minor >= 4) assert.ok(refused.some((e) => e.file.startsWith('pcapng-idb-tsresol-')), refused.map((e) => e.file).join(' '));
  for (const entry of refused) await damagedLikeTshark(entry);
});

test('a directory with damaged captures goes on past them and reports each at the end', () => {
  const dir = tempDir('broken-dir');
  const source = (name: string) => corpusEntries().find((e) => e.file === name)!.path;
  fs.mkdirSync(path.join(dir, 'nested'));
  fs.copyFileSync(source('bad_record_caplen_huge.pcap'), path.join(dir, 'a.pcap')); // 3 good packets
  fs.copyFileSync(source('bad_truncated_mid_record.pcap'), path.join(dir, 'c.pcap')); // 33 good packets
  fs.copyFileSync(source('dns-binds.pcap'), path.join(dir, 'nested', 'b.pcap')); // 2 packets
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'not a capture\n');

  const run = espcap(['--dir', dir, '--output', '-']);
  assert.equal(run.status, 1);
  const perFile: [string, number][] = [];
  for (const d of parseNdjson(run.stdout)) {
    const name = path.relative(dir, d.file_name);
    if (perFile.at(-1)?.[0] === name) perFile.at(-1)![1]++;
    else perFile.push([name, 1]);
  }
  // Recursive, in sorted path order, everything readable written.
  assert.deepEqual(perFile, [
    ['a.pcap', 3],
    ['c.pcap', 33],
    ['nested/b.pcap', 2],
  ]);
  const lines = run.stderr.trim().split('\n');
  assert.equal(lines.filter((l) => / \(after \d+ packets\)$/.test(l)).length, 2, run.stderr);
  assert.ok(lines.includes(`espcap: skipped ${path.join(dir, 'notes.txt')}: not a capture file`), run.stderr);
  assert.match(lines.at(-1)!, /^espcap: 38 packets from 3 capture files .*, 2 failed$/);
});
