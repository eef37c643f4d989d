// Bounded memory: session resets inside a capture and the replacement of a
// dissecting process that has grown lose and repeat no packet.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { corpusDir, tempDir, testPcaps } from './support/paths';
import { Doc, espcap, parseNdjson } from './support/programs';

const httpPcap = path.join(testPcaps, 'test_http.pcap');
const dnsPcap = path.join(testPcaps, 'test_dns.pcap');

// What a packet is, independent of cross-packet state (which a reset drops).
function stateless(d: Doc): string {
  const l = d.layers;
  return JSON.stringify([d.file_name, d.frame_number, d['@timestamp'], d.length, l.ip?.src, l.ip?.dst, l.tcp?.srcport, l.tcp?.seq_raw, l.udp?.srcport, l.dns?.id]);
}

const baseline = parseNdjson(espcap(['--file', dnsPcap, '--file', httpPcap, '--output', '-', '--quiet']).stdout);

test('a process past its limit is replaced at the next session reset: the documents are byte for byte those of one process', () => {
  const capture = path.join(corpusDir, 'echo-connections.pcap.gz'); // 82,582 packets, 1,700 TCP connections
  const out = tempDir('recycle');
  const common = ['--file', capture, '--session-packets', '10000'];
  // About 180 MB after start-up: past 150 MB at once, far from twice that (where it would stop mid-session).
  const replaced = espcap([...common, '--output', path.join(out, 'replaced.ndjson'), '--worker-max-rss', '150']);
  assert.equal(replaced.status, 0, replaced.stderr);
  const restarts = Number(/dissecting processes restarted (\d+) time/.exec(replaced.stderr)?.[1]);
  assert.ok(restarts >= 3, replaced.stderr);
  const single = espcap([...common, '--output', path.join(out, 'single.ndjson'), '--quiet']);
  assert.equal(single.status, 0, single.stderr);
  const a = fs.readFileSync(path.join(out, 'replaced.ndjson'));
  const b = fs.readFileSync(path.join(out, 'single.ndjson'));
  assert.equal(a.toString('latin1').split('\n').length, 82582 + 1);
  assert.ok(a.equals(b), 'the same bytes: tcp.stream, relative sequence numbers and times included');
});

test('a dissecting process far past its memory limit is replaced mid-session, losing and repeating nothing', () => {
  // 64 MB: start-up alone is past twice that, so every batch triggers a replacement at once.
  const run = espcap(['--file', dnsPcap, '--file', httpPcap, '--output', '-', '--worker-max-rss', '64']);
  assert.equal(run.status, 0, run.stderr);
  const docs = parseNdjson(run.stdout);
  assert.equal(docs.length, 108 + 1268);
  assert.deepEqual(docs.map(stateless), baseline.map(stateless));
  const restarts = Number(/dissecting processes restarted (\d+) time/.exec(run.stderr)?.[1]);
  // A batch holds 512 packets: test_dns is one batch and test_http three, so
  // at least three replacements happened mid-run.
  assert.ok(restarts >= 3, run.stderr);
});

test('session resets every N packets keep every packet and the frame numbering', () => {
  const docs = parseNdjson(espcap(['--file', dnsPcap, '--file', httpPcap, '--output', '-', '--quiet', '--session-packets', '100']).stdout);
  assert.deepEqual(docs.map(stateless), baseline.map(stateless));
  assert.ok(docs.every((d) => d.layers.frame.number === d.frame_number));
  // State is really dropped: TCP stream numbering restarts after a reset.
  const streams = (ds: Doc[]) => new Set(ds.filter((d) => d.layers.tcp).map((d) => d.layers.tcp.stream)).size;
  assert.ok(streams(docs) < streams(baseline));
});
