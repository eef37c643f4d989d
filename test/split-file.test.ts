// One capture file across several dissecting processes: cut at its session
// resets (--session-packets), each part dissected in a fresh session by
// whichever process is free. The plan against the corpus manifest, the
// documents against one process's, and indexing a cut file into the real
// test Elasticsearch (exact counts, resume).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initEngine, loadAddon, planParts } from '../src/engine/engine';
import { PcapngWriter } from '../src/outputs/pcapng';
import { corpusDir, tempDir, testPcaps } from './support/paths';
import { espcap, readableByThisTshark } from './support/programs';
import { count, es, esUrl, resetCluster, summary } from './support/elasticsearch';

const SESSION = 30;

test('the plan of every pcap and pcapng capture of the corpus counts the packets its manifest gives, and a compressed one is read whole', async () => {
  const manifest = fs.readFileSync(path.join(corpusDir, 'MANIFEST.tsv'), 'utf8').trim().split('\n').slice(1);
  const formats = new Map(manifest.map((line) => [line.split('\t')[0], line.split('\t')[6]]));
  let planned = 0;
  for (const entry of readableByThisTshark()) {
    const format = formats.get(entry.file);
    const plan = await planParts(entry.path, 100);
    if (plan.fileType === 'mime') {
      // Damaged pcapng files wiretap takes for another format: read whole.
      assert.match(plan.wholeReason, /its format \(mime\) is read whole/, entry.file);
    } else if (format === 'pcap' || format === 'pcapng') {
      assert.equal(plan.records, entry.packets, entry.file);
      assert.equal(plan.wholeReason, '', entry.file);
      assert.equal(plan.starts.length, Math.max(0, Math.ceil(entry.packets! / 100) - 1), entry.file);
      // Parts start past the header, in order.
      assert.ok(plan.starts.every((start, i) => start > (plan.starts[i - 1] ?? plan.headerBytes)), entry.file);
      planned++;
    } else if (format?.endsWith('+gzip')) {
      assert.match(plan.wholeReason, /compressed/, entry.file);
      assert.deepEqual(plan.starts, [], entry.file);
    }
  }
  assert.ok(planned > 200, `${planned} captures planned`);
});

/** Captures of several formats and link types, a pcapng with several interfaces, a compressed one, and one cut short mid-record. */
function buildDirectory(): string {
  const dir = tempDir('split');
  const corpus = [
    'smb3_multichannel.pcap',
    'irc-dcc-send.pcapng',
    'zeek_llc.pcap', // FDDI, byte-swapped pcap
    'timestamp.pcap',
    'quic_win11_firefox_google.pcap',
    'kerberos_tso.pcapng',
    'sctp-www.pcap',
    'bad_truncated_mid_record.pcap', // 33 whole packets, then cut short
    '1000-requests-one-dropped-response.pcap.gz',
  ];
  for (const file of corpus) fs.copyFileSync(path.join(corpusDir, file), path.join(dir, file));
  fs.copyFileSync(path.join(testPcaps, 'pcapng-multi-interface.pcapng'), path.join(dir, 'pcapng-multi-interface.pcapng'));
  return dir;
}

const directory = buildDirectory();

/** Document lines by file and frame number. */
function byFrame(file: string): Map<string, string> {
  const docs = new Map<string, string>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const doc = JSON.parse(line);
    docs.set(`${doc.file_name}#${doc.frame_number}`, line);
  }
  return docs;
}

test('files cut into parts for 2 processes give the documents one process gives, and the same errors', async () => {
  const out = tempDir('split-out');
  const one = espcap(['--dir', directory, '--workers', '1', '--session-packets', String(SESSION), '--output', path.join(out, '1.ndjson')]);
  const two = espcap(['--dir', directory, '--workers', '2', '--session-packets', String(SESSION), '--output', path.join(out, '2.ndjson')]);
  for (const run of [one, two]) {
    assert.equal(run.status, 1, run.stderr); // the file cut short
    assert.match(run.stderr, /bad_truncated_mid_record\.pcap: the capture is cut short in the middle of a packet \(after 33 packets\)/);
  }
  // The parts: every uncompressed file with more than SESSION records, in parts of SESSION records.
  let files = 0;
  let parts = 0;
  for (const name of fs.readdirSync(directory)) {
    const plan = await planParts(path.join(directory, name), SESSION);
    if (plan.starts.length === 0) continue;
    files++;
    parts += plan.starts.length + 1;
  }
  assert.equal(files, 8); // all but the compressed one and the 6-packet pcapng
  assert.match(two.stderr, new RegExp(`with 2 workers, ${files} files cut into ${parts} parts`));
  assert.doesNotMatch(one.stderr, /cut into/);
  // The compressed file is read whole, and that is said once.
  assert.equal(two.stderr.match(/is read whole by one process/g)?.length, 1, two.stderr);
  assert.match(two.stderr, /1000-requests-one-dropped-response\.pcap\.gz is read whole by one process, as it is compressed/);

  const expected = byFrame(path.join(out, '1.ndjson'));
  const got = byFrame(path.join(out, '2.ndjson'));
  assert.ok(expected.size > 9000, `${expected.size} documents`);
  assert.equal(got.size, expected.size);
  const differing = [...expected].filter(([key, line]) => got.get(key) !== line).map(([key]) => key);
  assert.deepEqual(differing, []);

  // tcp.stream counts from 0 in every session (every SESSION records here):
  // with session_start_frame it names one connection, without it several.
  const connections = new Map<string, Set<string>>();
  const streams = new Map<string, Set<string>>();
  for (const line of got.values()) {
    const doc = JSON.parse(line);
    assert.equal((doc.session_start_frame - 1) % SESSION, 0, `${doc.file_name} #${doc.frame_number}: session from ${doc.session_start_frame}`);
    assert.ok(doc.session_start_frame <= doc.frame_number && doc.frame_number < doc.session_start_frame + SESSION);
    const tcp = doc.layers.tcp;
    const ip = doc.layers.ip ?? doc.layers.ipv6;
    if (!tcp || !ip || Array.isArray(tcp) || Array.isArray(ip)) continue;
    const ends = [`${ip.src}:${tcp.srcport}`, `${ip.dst}:${tcp.dstport}`].sort().join(' ');
    const add = (map: Map<string, Set<string>>, key: string) => map.set(key, (map.get(key) ?? new Set()).add(ends));
    add(connections, `${doc.capture_id} ${doc.session_start_frame} ${tcp.stream}`);
    add(streams, `${doc.capture_id} ${tcp.stream}`);
  }
  assert.ok(connections.size > 100, `${connections.size} TCP streams`);
  for (const [key, ends] of connections) assert.equal(ends.size, 1, `${key}: ${[...ends].join(', ')}`);
  assert.ok([...streams.values()].some((ends) => ends.size > 1), 'tcp.stream alone names several connections');
});

test('a pcapng describing an interface after its first packet, and one of two sections, are each read whole, as one process reads them', async () => {
  const dir = tempDir('split-whole');
  // 40 Ethernet packets, then an interface of another link type (FDDI) and 40 of its packets.
  await initEngine();
  const late = path.join(dir, 'late-interface.pcapng');
  const writer = PcapngWriter.create(late, 'espcap test');
  for (const file of ['smb2.pcap', 'zeek_llc.pcap']) {
    const reader = loadAddon().openFrames(path.join(corpusDir, file));
    for (const f of reader.read([...Array(40).keys()].map((i) => i + 1))) writer.add(f);
    reader.close();
  }
  writer.close();
  // Two sections: one pcapng file after another.
  const sections = path.join(dir, 'two-sections.pcapng');
  fs.writeFileSync(sections, Buffer.concat(['irc-dcc-send.pcapng', 'kerberos_tso.pcapng'].map((f) => fs.readFileSync(path.join(corpusDir, f)))));
  for (const [file, records] of [[late, 80], [sections, 1184 + 314]] as const) {
    const plan = await planParts(file, SESSION);
    assert.equal(plan.records, records, file);
    assert.equal(plan.wholeReason, 'it describes interfaces or sections after its first packet', file);
    const one = espcap(['--file', file, '--workers', '1', '--session-packets', String(SESSION), '--output', path.join(dir, '1.ndjson')]);
    const two = espcap(['--file', file, '--workers', '2', '--session-packets', String(SESSION), '--output', path.join(dir, '2.ndjson')]);
    assert.equal(one.status, 0, one.stderr);
    assert.equal(two.status, 0, two.stderr);
    assert.match(two.stderr, new RegExp(`${path.basename(file)} is read whole by one process, as it describes interfaces or sections after its first packet\n`));
    assert.match(two.stderr, new RegExp(`^espcap: ${records} packets from 1 capture file .* with 2 workers`, 'm'));
    assert.doesNotMatch(two.stderr, /cut into/);
    assert.equal(fs.readFileSync(path.join(dir, '2.ndjson'), 'utf8'), fs.readFileSync(path.join(dir, '1.ndjson'), 'utf8'));
  }
});

test('writing to standard output with 2 workers is refused with one line saying why', () => {
  const run = espcap(['--file', path.join(directory, 'smb3_multichannel.pcap'), '--workers', '2', '--output', '-']);
  assert.equal(run.status, 2);
  assert.equal(run.stdout, '');
  assert.match(run.stderr, /^espcap: --workers above 1 needs --output FILE or --node: on standard output the packets of several processes would interleave out of order\n$/);
});

test('a file cut into parts, indexed with 2 workers: every packet once, recorded as done, skipped the next time', async () => {
  await resetCluster();
  const file = path.join(directory, 'smb3_multichannel.pcap'); // 1,448 packets
  const args = ['--file', file, '--node', esUrl(), '--workers', '2', '--session-packets', '100'];
  const first = espcap(args);
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stderr, /1448 packets from 1 capture file .* with 2 workers, one file cut into 15 parts/);
  assert.deepEqual(summary(first.stderr), { read: 1448, indexed: 1448, duplicates: 0, deadLettered: 0, notSent: 0, retries: 0 });
  assert.equal(await count({ term: { file_name: file } }), 1448);
  // Frame numbers are the file's own: 1 to 1,448, each once.
  const frames = await es('POST', '/packets-*/_search', { size: 0, aggs: { min: { min: { field: 'frame_number' } }, max: { max: { field: 'frame_number' } }, n: { cardinality: { field: 'frame_number', precision_threshold: 4000 } } } });
  assert.deepEqual([frames.aggregations.min.value, frames.aggregations.max.value, frames.aggregations.n.value], [1, 1448, 1448]);
  // The resume state: one record for the file, done, with its counts.
  await es('POST', '/espcap-ingest-state/_refresh');
  const state = await es('POST', '/espcap-ingest-state/_search', { query: { match_all: {} } });
  assert.equal(state.hits.hits.length, 1);
  const record = state.hits.hits[0]._source;
  assert.deepEqual([record.status, record.packets, record.indexed], ['done', 1448, 1448]);

  const again = espcap(args);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /1 of 1 files? already fully indexed by an earlier run: skipped/);
  assert.equal(await count({ term: { file_name: file } }), 1448);
});
