// Every readable capture of the shared corpus and of test_pcaps/, dissected by
// espcap, against what tshark prints for the same packets.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { corpusDir, corpusEntries, tempDir, testPcaps } from './support/paths';
import { Doc, espcap, forEachDocument, inParallel, tsharkFields } from './support/programs';
import { fieldValues, ShapeChecker } from './support/documents';

const FIELDS = [
  'frame.protocols',
  'ip.src',
  'ip.dst',
  'ipv6.src',
  'ipv6.dst',
  'tcp.srcport',
  'tcp.dstport',
  'udp.srcport',
  'udp.dstport',
  'dns.qry.name',
  'http.request.method',
  'http.host',
];

/** Per file, per frame number: the values of FIELDS, as strings, sorted. */
type Extract = Map<string, Map<number, string[][]>>;

// tshark -T fields cannot show an empty string (its cell is just empty), so
// empty strings are left out on both sides.
function extract(doc: Doc): string[][] {
  return FIELDS.map((f) => fieldValues(doc, f).map(String).filter((v) => v !== '').sort());
}

async function dissectAll(inputs: string[], out: string) {
  const run = espcap([...inputs.flatMap((f) => ['--file', f]), '--output', out]);
  const extracted: Extract = new Map();
  const shape = new ShapeChecker();
  await forEachDocument(out, (doc, line) => {
    shape.check(line);
    let perFile = extracted.get(doc.file_name);
    if (!perFile) extracted.set(doc.file_name, (perFile = new Map()));
    assert.equal(perFile.has(doc.frame_number), false, `frame ${doc.frame_number} of ${doc.file_name} written twice`);
    perFile.set(doc.frame_number, extract(doc));
  });
  return { extracted, stderr: run.stderr, status: run.status, shape };
}

test('every readable capture: packet count and key fields equal tshark -T fields', async () => {
  const readable = corpusEntries()
    .filter((e) => e.packets !== null && !e.file.startsWith('bad_'))
    .map((e) => e.path);
  const shipped = fs.readdirSync(testPcaps).map((f) => path.join(testPcaps, f));
  const inputs = [...readable, ...shipped];
  assert.ok(readable.length >= 250, `corpus at ${corpusDir} has ${readable.length} readable captures`);

  const out = path.join(tempDir('corpus'), 'corpus.ndjson');
  const { extracted, stderr, status, shape } = await dissectAll(inputs, out);
  assert.equal(status, 0, `espcap failed on readable captures:\n${stderr}`);

  const mismatches: string[] = [];
  let packets = 0;
  await inParallel(inputs, 2, async (file) => {
    const rows = await tsharkFields(file, ['frame.number', ...FIELDS]);
    const ours = extracted.get(file) ?? new Map();
    if (ours.size !== rows.length) mismatches.push(`${file}: espcap ${ours.size} packets, tshark ${rows.length}`);
    for (const row of rows) {
      const frame = Number(row[0][0]);
      const mine = ours.get(frame);
      if (!mine) {
        mismatches.push(`${file} frame ${frame}: missing`);
        continue;
      }
      packets++;
      FIELDS.forEach((field, i) => {
        const theirs = row[i + 1].filter((v) => v !== '').sort();
        if (JSON.stringify(mine[i]) !== JSON.stringify(theirs))
          mismatches.push(`${path.basename(file)} frame ${frame} ${field}: espcap ${JSON.stringify(mine[i])} tshark ${JSON.stringify(theirs)}`);
      });
    }
  });
  assert.ok(packets > 100000, `only ${packets} packets compared`);
  assert.deepEqual(shape.problems.slice(0, 10), [], 'duplicate keys, or a key that is both an object and a value');
  assert.deepEqual(mismatches.slice(0, 25), [], `${mismatches.length} mismatches`);
});
