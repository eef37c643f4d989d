// The document of a packet: its fixed fields, typed layer values, byte-field
// elision, repeated protocols, against tshark where tshark can tell.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { testPcaps } from './support/paths';
import { Doc, espcap, parseNdjson, tshark, tsharkFields } from './support/programs';
import { fieldValues } from './support/documents';
import { fieldRegistry } from '../src/engine/engine';

const httpPcap = path.join(testPcaps, 'test_http.pcap');

function documents(file: string, extra: string[] = []): Doc[] {
  const run = espcap(['--file', file, '--output', '-', '--quiet', ...extra]);
  assert.equal(run.status, 0, run.stderr);
  return parseNdjson(run.stdout);
}

const httpDocs = documents(httpPcap);

test('fixed fields: times from the packet, protocol, capture, file, lengths', async () => {
  const rows = await tsharkFields(httpPcap, ['frame.number', 'frame.time_epoch', 'frame.len', 'frame.cap_len']);
  assert.equal(httpDocs.length, rows.length);
  httpDocs.forEach((doc, i) => {
    const [[number], [epoch], [len], [capLen]] = rows[i];
    const [secs, frac] = epoch.split('.');
    assert.equal(doc.frame_number, Number(number));
    assert.equal(doc['@timestamp'], new Date(Number(secs) * 1000).toISOString().slice(0, 19) + '.' + frac.padEnd(9, '0') + 'Z');
    assert.equal(typeof doc.sniff_timestamp, 'number');
    assert.ok(Math.abs(doc.sniff_timestamp - Number(epoch) * 1000) < 0.001);
    assert.equal(doc.sniff_date_utc, doc['@timestamp'].slice(0, 19));
    assert.equal(doc.length, Number(len));
    assert.equal(doc.captured_length, Number(capLen));
    assert.equal(doc.capture, 'file');
    assert.equal(doc.file_name, httpPcap);
    assert.match(doc.file_date_utc, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    assert.equal(doc.layers.frame.number, doc.frame_number);
  });
});

test('protocol is the highest layer that is not a payload or pseudo layer', () => {
  const byProtocol = new Map<string, number>();
  for (const d of httpDocs) byProtocol.set(d.protocol, (byProtocol.get(d.protocol) ?? 0) + 1);
  for (const doc of httpDocs) {
    const layers = Object.keys(doc.layers).filter((l) => !['data', 'data-text-lines', 'media'].includes(l) && !l.startsWith('ws_'));
    assert.equal(doc.protocol, layers.at(-1), `frame ${doc.frame_number}: ${Object.keys(doc.layers)}`);
  }
  assert.ok((byProtocol.get('http') ?? 0) > 50, JSON.stringify([...byProtocol]));
  assert.ok((byProtocol.get('tcp') ?? 0) > 500);
  const dns = documents(path.join(testPcaps, 'test_dns.pcap'));
  assert.ok(dns.every((d) => d.protocol === 'dns'));
});

test('typed values: numbers are numbers, addresses strings, flags booleans, times ISO or seconds', async () => {
  const syn = httpDocs[0].layers;
  assert.equal(syn.tcp.srcport, 59803);
  assert.equal(syn.tcp.dstport, 80);
  assert.equal(syn.tcp.flags_syn, true);
  assert.equal(syn.tcp.flags_ack, false);
  assert.equal(syn.tcp.seq_raw, 2938751739);
  assert.equal(syn.ip.src, '10.0.0.4');
  assert.equal(syn.ip.ttl, 64);
  assert.equal(syn.eth.src, '60:f8:1d:cb:43:84');
  assert.equal(syn.eth.type, 2048);
  assert.equal(syn.frame.time, '2015-07-30T05:22:10.468623000Z');
  // A relative time (seconds) in libwireshark 4.0, an absolute time from 4.2 on: the value follows the release's type.
  const epochType = (await fieldRegistry()).find((f) => f.abbrev === 'frame.time_epoch')?.type;
  assert.equal(syn.frame.time_epoch, epochType === 'FT_ABSOLUTE_TIME' ? '2015-07-30T05:22:10.468623000Z' : 1438233730.468623);
  assert.equal(syn.frame.protocols, 'eth:ethertype:ip:tcp');
  // Repeated fields become arrays.
  // eth.addr is an item of 4.0's tree (under each address) and hidden from
  // 4.4 on; documents hold what the tree shows, as tshark -V prints it.
  const ethAddrShown = /^ {8}Address: /m.test(await tshark(['-r', httpPcap, '-c', '1', '-V']));
  assert.deepEqual(syn.eth.addr, ethAddrShown ? ['58:23:8c:b4:42:56', '60:f8:1d:cb:43:84'] : undefined);
  assert.deepEqual(syn.tcp.option_kind, [2, 1, 3, 1, 1, 8, 4, 0, 0]);

  const request = httpDocs.find((d) => d.layers.http?.request_method === 'GET')!;
  assert.equal(typeof request.layers.http.host, 'string');
  assert.equal(typeof request.layers.http.request_uri, 'string');
  const rtt = httpDocs.find((d) => d.layers.tcp?.analysis_ack_rtt !== undefined)!;
  assert.equal(typeof rtt.layers.tcp.analysis_ack_rtt, 'number');
  // Presence-only items are searchable as true.
  assert.equal(httpDocs[1].layers.tcp.analysis, true);
});

test('byte fields longer than --max-bytes are left out; --max-bytes 0 keeps all', async () => {
  const rows = await tsharkFields(httpPcap, ['tcp.payload']);
  const hexOf = (r: string[][]) => r[0][0]?.replaceAll(':', '');
  const lengths = rows.map((r) => (hexOf(r)?.length ?? 0) / 2);
  const small = httpDocs.filter((_, i) => lengths[i] > 0 && lengths[i] <= 64);
  const big = httpDocs.filter((_, i) => lengths[i] > 64);
  assert.ok(small.length > 0 && big.length > 100);
  assert.ok(small.every((d) => typeof d.layers.tcp.payload === 'string'));
  assert.ok(big.every((d) => d.layers.tcp.payload === undefined));

  const all = documents(httpPcap, ['--max-bytes', '0']);
  all.forEach((doc, i) => {
    const hex = hexOf(rows[i]);
    assert.equal(doc.layers.tcp?.payload, hex);
  });
  const size = (docs: Doc[]) => docs.reduce((n, d) => n + JSON.stringify(d).length, 0);
  const saved = 1 - size(httpDocs) / size(all);
  assert.ok(saved > 0.4, `default documents are only ${(saved * 100).toFixed(0)}% smaller`);
});

test('a protocol occurring twice (IPv6 in GTP in IPv6) is an array of layers in packet order', async () => {
  const file = path.join(testPcaps, 'ipv6-gtp6.pcap');
  const [doc] = documents(file);
  const rows = await tsharkFields(file, ['ipv6.src', 'ipv6.dst', 'udp.srcport']);
  assert.ok(Array.isArray(doc.layers.ipv6) && doc.layers.ipv6.length === 2);
  assert.deepEqual(doc.layers.ipv6.map((l: Doc) => l.src), rows[0][0]);
  assert.deepEqual(doc.layers.ipv6.map((l: Doc) => l.dst), rows[0][1]);
  assert.deepEqual(fieldValues(doc, 'udp.srcport').map(String), rows[0][2]);
});

test('pcapng with several interfaces: interface id and name per packet', async () => {
  const file = path.join(testPcaps, 'pcapng-multi-interface.pcapng');
  const docs = documents(file);
  const rows = await tsharkFields(file, ['frame.interface_id', 'frame.interface_name']);
  assert.equal(docs.length, rows.length);
  docs.forEach((doc, i) => {
    assert.equal(doc.interface_id, Number(rows[i][0][0]));
    assert.equal(doc.layers.frame.interface_name, rows[i][1][0]);
  });
  assert.ok(new Set(docs.map((d) => d.interface_id)).size > 1);
});

test('compressed captures are read by content, whatever the name', () => {
  const docs = documents(path.join(testPcaps, 'derived_gzip_compressed.pcap.gz'));
  assert.equal(docs.length, 136);
});
