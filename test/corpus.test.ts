// Every readable capture of the shared corpus and of test_pcaps/, dissected by
// espcap, against what tshark prints for the same packets.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { corpusDir, tempDir, testPcaps } from './support/paths';
import { Doc, espcap, forEachDocument, inParallel, readableByThisTshark, tshark, tsharkFields } from './support/programs';
import { fieldValues, ShapeChecker } from './support/documents';

// Common fields of many protocols; each is read from the path the rule gives
// (layers.<protocol>.<rest>) and nowhere else, so a field filed under another
// protocol's layer (an ICMP error's quoted header, dns.* under mDNS) fails.
const FIELDS = [
  'frame.len',
  'frame.protocols',
  'eth.src',
  'eth.dst',
  'vlan.id',
  'arp.opcode',
  'arp.src.proto_ipv4',
  'arp.dst.proto_ipv4',
  'ip.src',
  'ip.dst',
  'ip.ttl',
  'ip.proto',
  'ipv6.src',
  'ipv6.dst',
  'ipv6.nxt',
  'icmp.type',
  'icmp.code',
  'icmpv6.type',
  'tcp.srcport',
  'tcp.dstport',
  'tcp.len',
  'tcp.stream',
  'udp.srcport',
  'udp.dstport',
  'udp.length',
  'dns.id',
  'dns.qry.name',
  'dns.qry.type',
  'dns.a',
  'dns.aaaa',
  'http.host',
  'http.request.method',
  'http.request.uri',
  'http.response.code',
  'tls.handshake.type',
  'tls.handshake.extensions_server_name',
  'sip.Method',
  'sip.Call-ID',
];

/** Per file, per frame number: the values of FIELDS, as strings, sorted. */
type Extract = Map<string, Map<number, string[][]>>;

// tshark -T fields cannot show an empty string (its cell is just empty), so
// empty strings are left out on both sides.
function extract(doc: Doc): string[][] {
  return FIELDS.map((f) => fieldValues(doc, f).map(String).filter((v) => v !== '').sort());
}

// tshark prints integers of hexadecimal display (dns.id) as 0x..; documents hold the number.
function tsharkValue(v: string): string {
  return /^0x[0-9a-f]+$/i.test(v) ? BigInt(v).toString() : v;
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

// One espcap run over every readable capture, shared by the tests below. The
// manifest says what tshark 4.0 reads; a few of those are damaged to a later
// release (test/broken-input.test.ts holds espcap to its tshark there).
const shipped = fs.readdirSync(testPcaps).map((f) => path.join(testPcaps, f));
let corpusRun: Promise<{ inputs: string[] } & Awaited<ReturnType<typeof dissectAll>>> | undefined;
const dissected = () =>
  (corpusRun ??= (async () => {
    const readable = readableByThisTshark().map((e) => e.path);
    assert.ok(readable.length >= 250, `corpus at ${corpusDir} has ${readable.length} readable captures`);
    const inputs = [...readable, ...shipped];
    return { inputs, ...(await dissectAll(inputs, path.join(tempDir('corpus'), 'corpus.ndjson'))) };
  })());

test('every readable capture: packet count, and every occurrence of 38 common fields at its path equals tshark -T fields', async () => {
  const { inputs, extracted, stderr, status, shape } = await dissected();
  assert.equal(status, 0, `espcap failed on readable captures:\n${stderr}`);

  const mismatches: string[] = [];
  let packets = 0;
  let values = 0;
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
        const theirs = row[i + 1].filter((v) => v !== '').map(tsharkValue).sort();
        values += theirs.length;
        if (JSON.stringify(mine[i]) !== JSON.stringify(theirs))
          mismatches.push(`${path.basename(file)} frame ${frame} ${field}: espcap ${JSON.stringify(mine[i])} tshark ${JSON.stringify(theirs)}`);
      });
    }
  });
  assert.ok(packets > 100000, `only ${packets} packets compared`);
  assert.ok(values > 1000000, `only ${values} values compared`);
  assert.deepEqual(shape.problems.slice(0, 10), [], 'duplicate keys, or a key that is both an object and a value');
  assert.deepEqual(mismatches.slice(0, 25), [], `${mismatches.length} mismatches`);
});

// (field, value) pairs drawn from the corpus, most where the field sits inside
// another protocol's subtree: dns.* under LLMNR, mDNS and GTP; the IPv6/IPv4
// and UDP headers quoted by ICMP errors; IP inside GRE and GTP; TLS inside QUIC.
const c = (file: string) => path.join(corpusDir, file);
const t = (file: string) => path.join(testPcaps, file);
const PAIRS: { file: string; field: string; value: string; literal: string }[] = [
  { file: c('wikipedia.pcap'), field: 'dns.qry.name', value: 'BRWC0CB383D1F42', literal: '"BRWC0CB383D1F42"' },
  { file: c('wikipedia.pcap'), field: 'dns.qry.name', value: 'gemini._sftp-ssh._tcp.local', literal: '"gemini._sftp-ssh._tcp.local"' },
  { file: c('wikipedia.pcap'), field: 'dns.qry.type', value: '33', literal: '33' },
  { file: c('wikipedia.pcap'), field: 'udp.dstport', value: '5355', literal: '5355' },
  { file: c('v6.pcap'), field: 'ipv6.dst', value: '3ffe:501:410:0:2c0:dfff:fe47:33e', literal: '3ffe:501:410:0:2c0:dfff:fe47:33e' },
  { file: c('v6.pcap'), field: 'udp.dstport', value: '33435', literal: '33435' },
  { file: c('v6.pcap'), field: 'ipv6.nxt', value: '17', literal: '17' },
  { file: c('icmp-cksum-oobr-1.pcap'), field: 'ip.src', value: '62.225.245.115', literal: '62.225.245.115' },
  { file: c('icmp-cksum-oobr-1.pcap'), field: 'udp.dstport', value: '1027', literal: '1027' },
  { file: c('gre-sample.pcap'), field: 'ip.src', value: '172.27.1.66', literal: '172.27.1.66' },
  { file: c('gre-sample.pcap'), field: 'ip.dst', value: '66.59.111.190', literal: '66.59.111.190' },
  { file: c('gtp-iphone.pcap'), field: 'ip.src', value: '192.168.3.129', literal: '192.168.3.129' },
  { file: c('gtp-iphone.pcap'), field: 'dns.qry.name', value: 'sentitlement.mobile.att.net', literal: '"sentitlement.mobile.att.net"' },
  { file: c('gtp-iphone.pcap'), field: 'icmp.type', value: '3', literal: '3' },
  { file: c('quic_win11_firefox_google.pcap'), field: 'tls.handshake.extensions_server_name', value: 'www.google.com', literal: '"www.google.com"' },
  { file: c('quic_win11_firefox_google.pcap'), field: 'tls.handshake.type', value: '1', literal: '1' },
  { file: c('vlan-pcp-dei.pcapng'), field: 'vlan.id', value: '20', literal: '20' },
  { file: c('sip-junk-before-request.pcap'), field: 'sip.Method', value: 'REGISTER', literal: '"REGISTER"' },
  { file: t('test_http.pcap'), field: 'http.request.method', value: 'GET', literal: '"GET"' },
  { file: t('test_http.pcap'), field: 'http.response.code', value: '200', literal: '200' },
  { file: t('test_dns.pcap'), field: 'dns.a', value: '74.125.239.133', literal: '74.125.239.133' },
  { file: c('cloudshark-arp.pcap'), field: 'arp.opcode', value: '2', literal: '2' },
];

test('for 20+ (field, value) pairs, the documents holding the value at its path are the packets tshark -Y "field == value" finds', async () => {
  const { extracted } = await dissected();
  const failures: string[] = [];
  let matched = 0;
  await inParallel(PAIRS, 2, async ({ file, field, value, literal }) => {
    const frames = (await tshark(['-r', file, '-Y', `${field} == ${literal}`, '-T', 'fields', '-e', 'frame.number'])).split('\n').filter(Boolean).map(Number);
    const column = FIELDS.indexOf(field);
    assert.ok(column >= 0, `${field} is one of FIELDS`);
    const ours = [...(extracted.get(file) ?? new Map()).entries()].filter(([, values]) => values[column].includes(value)).map(([frame]) => frame).sort((a, b) => a - b);
    if (frames.length === 0) failures.push(`${path.basename(file)}: tshark finds no packet with ${field} == ${literal}`);
    if (JSON.stringify(ours) !== JSON.stringify(frames)) failures.push(`${path.basename(file)} ${field} == ${literal}: espcap frames ${ours.slice(0, 20)}, tshark ${frames.slice(0, 20)}`);
    matched += frames.length;
  });
  assert.deepEqual(failures, []);
  assert.ok(matched > 100, `${matched} packets matched`);
});
