// Bounded memory: session resets inside a capture and the replacement of a
// dissecting process that has grown lose and repeat no packet.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { testPcaps } from './support/paths';
import { Doc, espcap, parseNdjson } from './support/programs';

const httpPcap = path.join(testPcaps, 'test_http.pcap');
const dnsPcap = path.join(testPcaps, 'test_dns.pcap');

// What a packet is, independent of cross-packet state (which a reset drops).
function stateless(d: Doc): string {
  const l = d.layers;
  return JSON.stringify([d.file_name, d.frame_number, d['@timestamp'], d.length, l.ip?.src, l.ip?.dst, l.tcp?.srcport, l.tcp?.seq_raw, l.udp?.srcport, l.dns?.id]);
}

const baseline = parseNdjson(espcap(['--file', dnsPcap, '--file', httpPcap, '--output', '-', '--quiet']).stdout);

test('a dissecting process past its memory limit is replaced mid-file, losing and repeating nothing', () => {
  // 64 MB is below what a process uses after start-up, so every batch triggers a replacement.
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
