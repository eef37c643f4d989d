// From Elasticsearch back to Wireshark: espcap --query searches the indexed
// captures with a display filter, and --write gives back the very packets
// tshark -Y finds in those captures (compared frame by frame: MD5 of the
// bytes), as pcapng in time order. Against the real cluster and the real
// libwireshark; tshark is the reference.
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { corpusDir, espcapBin, tempDir, testPcaps } from './support/paths';
import { espcap, inParallel, parseNdjson, tshark } from './support/programs';
import { esUrl, resetCluster } from './support/elasticsearch';

// Varied traffic: DNS, mDNS, NBNS, HTTP, SCTP, SMTP, PPPoE, GRE, IPv6, a pcapng of several interfaces, a gzip-compressed capture.
const captures = [
  ...['test_http.pcap', 'dns-binds.pcap', 'test_dns.pcap', 'ipv6-gtp6.pcap', 'pcapng-multi-interface.pcapng', 'derived_gzip_compressed.pcap.gz'].map((f) => path.join(testPcaps, f)),
  ...['wikipedia.pcap', 'nbns.pcap', 'sctp-www.pcap', 'smtp.pcap', 'pppoe.pcap', 'gre-sample.pcap', 'ipv6-http-atomic-frag.pcap', 'var-services-std-ports.pcap'].map((f) => path.join(corpusDir, f)),
];

// Times in UTC, as the tshark reference reads them (a filter's time without a zone is local time in both).
const env = { ...process.env, TZ: 'UTC' };
const query = (args: string[]) => espcap(['--node', esUrl(), ...args], { env });

/** MD5 of every frame tshark -Y finds in the captures, sorted. */
async function tsharkFinds(filter: string, files = captures): Promise<string[]> {
  const found: string[] = [];
  await inParallel(files, 2, async (file) => {
    const out = await tshark(['-r', file, '-Y', filter, '-o', 'frame.generate_md5_hash:TRUE', '-T', 'fields', '-e', 'frame.md5_hash']);
    found.push(...out.split('\n').filter(Boolean));
  });
  return found.sort();
}

/** MD5 and time of every frame of a pcapng espcap wrote, in file order. */
async function framesOf(file: string): Promise<{ md5: string; time: number }[]> {
  const out = await tshark(['-r', file, '-o', 'frame.generate_md5_hash:TRUE', '-T', 'fields', '-e', 'frame.md5_hash', '-e', 'frame.time_epoch']);
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [md5, time] = line.split('\t');
      return { md5, time: Number(time) };
    });
}

before(async () => {
  await resetCluster();
  const run = espcap([...captures.flatMap((f) => ['--file', f]), '--node', esUrl(), '--quiet']);
  assert.equal(run.status, 0, run.stderr);
});

// Display filters of every kind the translation covers; each must find exactly what tshark -Y finds.
const FILTERS = [
  'dns', // a protocol: its item, not its fields (dns.* under mDNS are not "dns")
  'mdns',
  '_ws.expert', // an annotation protocol, not a dissector layer
  'tcp.flags.syn', // a field present, whatever its value
  'tcp.port == 80 && tcp.flags.syn == 1', // either-direction field, booleans, and
  'tcp.port != 80', // no value equal, the field there
  '!(tcp.port == 80)', // not: also packets without TCP
  'tcp.port === 80', // every value equal
  'tcp.port !== 80', // some value not equal
  'udp.port in {53, 137, 5353} || sctp.port in {80, 1000..2000}', // sets with a range, or
  'ip.addr == 10.0.0.0/8 and not udp', // a subnet
  'ipv6.addr == fe80::/10', // IPv6 subnet
  'ip.src == 141.142.220.202', // one address
  'eth.addr == 00:30:48:bd:3e:c4', // MAC addresses
  'ip.ttl < 64 or ip.len >= 1400', // orderings
  'frame.len > 1000 && frame.len <= 1514',
  'dns.qry.name contains "example"', // text contains
  'dns.qry.name matches "^(www|en)\\\\.wikipedia"', // regular expression, case-insensitive, anchored
  'http.request.method matches "get|post"',
  'smtp.req.command == "MAIL"', // text equals
  'frame.time >= "2011-03-18 19:06:07.5" && frame.time < "2011-03-18 19:06:09"', // absolute time to the nanosecond
  'frame.time_relative > 30.5', // relative time (seconds)
  'dns.count.answers >= 2 and dns.flags.response == 1',
  'not ip and not ipv6',
];

test(`${FILTERS.length} display filters: --write gives exactly the packets tshark -Y finds in the indexed captures, in time order`, async () => {
  const dir = tempDir('query');
  let nonEmpty = 0;
  for (const [i, filter] of FILTERS.entries()) {
    const out = path.join(dir, `${i}.pcapng`);
    const run = query(['--query', filter, '--write', out]);
    assert.equal(run.status, 0, `${filter}: ${run.stderr}`);
    const expected = await tsharkFinds(filter);
    const written = await framesOf(out);
    assert.deepEqual(written.map((f) => f.md5).sort(), expected, `${filter}: the packets written are not those tshark -Y finds`);
    for (let k = 1; k < written.length; k++) assert.ok(written[k - 1].time <= written[k].time, `${filter}: not in time order at packet ${k + 1}`);
    assert.match(run.stderr, new RegExp(`^espcap: ${expected.length} packets? found in packets-\\*; ${expected.length} written to `, 'm'));
    if (expected.length > 0) nonEmpty++;
  }
  // The filters must find something to show anything.
  assert.ok(nonEmpty >= FILTERS.length - 2, `only ${nonEmpty} of ${FILTERS.length} filters found packets`);
});

test('the documents found, as NDJSON and printed, are the packets the filter finds; --count caps them', async () => {
  const filter = 'dns && udp.srcport == 53';
  const expected = (await tsharkFinds(filter)).length;
  assert.ok(expected > 3);
  const ndjson = query(['--query', filter, '--output', '-', '--quiet']);
  assert.equal(ndjson.status, 0, ndjson.stderr);
  const docs = parseNdjson(ndjson.stdout);
  assert.equal(docs.length, expected);
  for (const doc of docs) {
    assert.ok(doc.protocols.includes('dns'));
    assert.ok([doc.layers.udp].flat().some((u: { srcport: number }) => u.srcport === 53));
  }
  const times = docs.map((d) => d['@timestamp'] as string);
  assert.deepEqual(times, [...times].sort(), 'in time order');

  const printed = query(['--query', filter, '--quiet']);
  assert.equal(printed.status, 0, printed.stderr);
  assert.equal(printed.stdout.match(/^packet \d+ /gm)?.length, expected);

  const capped = query(['--query', filter, '--output', '-', '--count', '3']);
  assert.equal(capped.status, 0, capped.stderr);
  assert.deepEqual(parseNdjson(capped.stdout), docs.slice(0, 3));
  assert.match(capped.stderr, /^espcap: 3 packets found in packets-\* \(stopped at --count 3\)$/m);
});

test('--since and --until bound the packets by time', async () => {
  const filter = 'dns';
  const run = query(['--query', filter, '--output', '-', '--quiet', '--since', '2011-03-18 19:06:07.5', '--until', '2011-03-18T19:06:09Z']);
  assert.equal(run.status, 0, run.stderr);
  const expected = await tsharkFinds(`${filter} && frame.time >= "2011-03-18 19:06:07.5" && frame.time < "2011-03-18 19:06:09"`);
  assert.ok(expected.length > 0);
  assert.equal(parseNdjson(run.stdout).length, expected.length);
});

test('a filter Wireshark rejects gets its message, one that espcap cannot translate exactly names the construct: one line, exit 2, nothing searched', () => {
  const cases: [string, RegExp][] = [
    ['tcp.port in {80 443}', /^espcap: --query: invalid display filter "tcp\.port in \{80 443\}": "443" was unexpected in this context\.$/],
    ['dns.qry.nam == "x"', /^espcap: --query: invalid display filter .*dns\.qry\.nam.*$/],
    ['len(dns.qry.name) > 5', /^espcap: --query: the function len\(\) cannot be translated into an Elasticsearch query exactly; not searched$/],
    ['ip.src[0:2] == 0a:00', /^espcap: --query: a slice \(ip\.src\[\.\.\.\]\) cannot be translated/],
    ['tcp.srcport == tcp.dstport', /^espcap: --query: a comparison of two fields .* cannot be translated/],
    ['dns.qry.name matches "a(?=b)"', /^espcap: --query: the regular expression construct \(\?\.\.\.\) in "a\(\?=b\)" cannot be translated/],
    ['tcp.len + 1 > 3', /cannot be translated/],
    ['udp.payload contains 6b:b3', /^espcap: --query: the byte field udp\.payload \(left out of documents when longer than --max-bytes, so not found exactly\) cannot be translated/],
    ['udp.srcport > -12', /^espcap: --query: the value -12 for udp\.srcport \(a negative number for an unsigned field\) cannot be translated/],
  ];
  for (const [filter, message] of cases) {
    const run = query(['--query', filter]);
    assert.equal(run.status, 2, `${filter}: ${run.stderr}`);
    const lines = run.stderr.trim().split('\n');
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0], message);
    assert.equal(run.stdout, '');
  }
  const noNode = espcap(['--query', 'dns']);
  assert.equal(noNode.status, 2);
  assert.equal(noNode.stderr, 'espcap: --query searches Elasticsearch: give --node\n');
});

test('a capture removed or changed since it was indexed: reported, the packets of the others still written, exit 1', async () => {
  const dir = tempDir('query-moved');
  const kept = path.join(dir, 'kept.pcap');
  const removed = path.join(dir, 'removed.pcap');
  const changed = path.join(dir, 'changed.pcap');
  // Copies under new names are new captures only if their content differs: take three distinct ones.
  fs.copyFileSync(path.join(corpusDir, 'smtp-originating.pcap'), kept);
  fs.copyFileSync(path.join(corpusDir, 'retr.pcap'), removed);
  fs.copyFileSync(path.join(corpusDir, 'pipelined-requests.pcap'), changed);
  const indexed = espcap(['--file', kept, '--file', removed, '--file', changed, '--node', esUrl(), '--quiet']);
  assert.equal(indexed.status, 0, indexed.stderr);
  const filter = 'tcp';
  const [removedCount, changedCount] = [(await tsharkFinds(filter, [removed])).length, (await tsharkFinds(filter, [changed])).length];
  assert.ok(removedCount > 0 && changedCount > 0);
  fs.rmSync(removed);
  fs.appendFileSync(changed, Buffer.alloc(16)); // another capture now: its capture_id differs

  const out = path.join(dir, 'found.pcapng');
  const run = query(['--query', filter, '--write', out, '--quiet']);
  assert.equal(run.status, 1, run.stderr);
  assert.match(run.stderr, new RegExp(`^espcap: ${removed}: no such file \\(moved or removed since it was indexed\\): ${removedCount} packets not written$`, 'm'));
  assert.match(run.stderr, new RegExp(`^espcap: ${changed}: changed since it was indexed \\(capture_id [0-9a-f]{20}, indexed as [0-9a-f]{20}\\): ${changedCount} packets not written$`, 'm'));
  assert.equal(run.stderr.trim().split('\n').length, 2, run.stderr);
  // Everything else is there: the kept copy and the captures of the first test.
  const others = await tsharkFinds(filter, [...captures, kept]);
  assert.deepEqual((await framesOf(out)).map((f) => f.md5).sort(), others);
});

test('--write never writes over a capture the packets are read from, and leaves no partial file behind; --write - writes the same bytes to standard output; a reader that stops early ends the search quietly', async () => {
  const dir = tempDir('query-own');
  const own = path.join(dir, 'own.pcap');
  fs.copyFileSync(path.join(corpusDir, 'websocket.pcap'), own);
  const indexed = espcap(['--file', own, '--node', esUrl(), '--quiet']);
  assert.equal(indexed.status, 0, indexed.stderr);
  const before = fs.readFileSync(own);
  const run = query(['--query', 'websocket || tcp', '--write', own]);
  assert.equal(run.status, 1, run.stderr);
  assert.equal(run.stderr, `espcap: --write ${own}: that is a capture the packets found are read from; write them to another file\n`);
  assert.deepEqual(fs.readFileSync(own), before, 'the capture is untouched');
  assert.deepEqual(fs.readdirSync(dir), ['own.pcap'], 'no partial file');

  // To standard output, for wireshark -k -i -: the bytes of the file.
  const toFile = path.join(dir, 'dns.pcapng');
  assert.equal(query(['--query', 'dns', '--write', toFile, '--quiet']).status, 0);
  const piped = spawnSync(process.execPath, [espcapBin, '--node', esUrl(), '--query', 'dns', '--write', '-', '--quiet'], { env, maxBuffer: 1 << 28 });
  assert.equal(piped.status, 0, piped.stderr?.toString());
  assert.ok(piped.stdout.length > 1000);
  assert.deepEqual(piped.stdout, fs.readFileSync(toFile));

  const headed = spawnSync('bash', ['-c', `"${process.execPath}" "${espcapBin}" --node ${esUrl()} --query tcp --output - | head -c 100 > /dev/null; echo "exit=\${PIPESTATUS[0]}" >&2`], { encoding: 'utf8', env });
  assert.match(headed.stderr, /exit=0\n$/, headed.stderr);
  assert.doesNotMatch(headed.stderr, /internal error|Error:|at /);
});
