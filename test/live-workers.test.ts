// Live capture spread over several dissecting processes by flow (--workers).
// Without a network: the benchmark-only source (--test-live-source) feeds a
// capture file through the very path live packets take (flow hash, one
// stream per worker, frame notes), so that the documents can be compared with
// what one process writes reading the file. On a veth pair between private
// namespaces (as in live-capture.test.ts): replayed traffic, Ctrl-C, and a
// worker killed while capture goes on.
import { execFileSync } from 'node:child_process';
import { after, before, test, TestContext } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CAPTURE_FIELDS } from '../src/document';
import { corpusDir, espcapBin, tempDir, testPcaps } from './support/paths';
import { Doc, espcap, parseNdjson, tsharkFields } from './support/programs';
import { count, es, esUrl, resetCluster } from './support/elasticsearch';
import { canMakeNetworks, VethPair } from './support/network';
import { Capture, exitWithin, startCapture as startOn, stopWithCtrlC } from './support/live-capture';

const httpPcap = path.join(testPcaps, 'test_http.pcap'); // 1268 packets
const dnsPcap = path.join(testPcaps, 'test_dns.pcap'); // 108 packets
const postPcap = path.join(corpusDir, 'http-post-large.pcap'); // 38 packets: two HTTP requests over several segments each

/**
 * Fields that differ by design: where the capture came from (file or
 * interface; what a pcapng file says of its interfaces, which a live stream
 * does not carry), and what depends on which packets one process saw (its
 * own stream counters, the previous packet it displayed).
 */
const PER_PROCESS = [
  ...CAPTURE_FIELDS.map((f) => f.name),
  'interface_id',
  'layers.frame.interface_id',
  'layers.frame.interface_name',
  'layers.frame.section_number',
  'session_start_frame',
  'layers.tcp.stream',
  'layers.udp.stream',
  'layers.frame.time_delta_displayed',
];

function without(doc: Doc, paths: string[]): Doc {
  const copy = structuredClone(doc);
  for (const p of paths) {
    const keys = p.split('.');
    let at = copy;
    for (const key of keys.slice(0, -1)) at = at?.[key];
    if (at && typeof at === 'object') delete at[keys[keys.length - 1]];
  }
  return copy;
}

function byFrame(docs: Doc[]): Map<number, Doc> {
  return new Map(docs.map((d) => [d.frame_number, d]));
}

/** espcap --nic with the benchmark-only source: the file's packets through the live path, as fast as the workers take them. */
function liveFromFile(file: string, workers: number, extra: string[] = []): { docs: Doc[]; stderr: string } {
  const out = path.join(tempDir('workers'), 'out.ndjson');
  const run = espcap(['--nic', 'test0', '--test-live-source', file, '--workers', String(workers), '--output', out, ...extra]);
  assert.equal(run.status, 0, run.stderr);
  return { docs: parseNdjson(fs.readFileSync(out, 'utf8')), stderr: run.stderr };
}

/** Packets each worker took, from the summary's per-worker lines. */
function perWorker(stderr: string): number[] {
  return [...stderr.matchAll(/worker \d+ of \d+: (\d+) packets, (\d+) dissected, 0 dropped by espcap/g)].map((m) => {
    assert.equal(m[1], m[2], 'a worker dissected every packet it took');
    return Number(m[1]);
  });
}

/**
 * The two ends of a packet's transport flow, the same in both directions;
 * undefined for a packet without ports, and for an ICMP error quoting one
 * (it belongs to the ICMP traffic between its own two addresses).
 */
function flowOf(d: Doc): string | undefined {
  const l = d.layers;
  if (l.icmp || l.icmpv6) return undefined;
  const last = (v: unknown) => (Array.isArray(v) ? v[v.length - 1] : v);
  const ip = last(l.ipv6 ?? l.ip) as Doc | undefined;
  const transport = (l.tcp ?? l.udp ?? l.sctp) as Doc | undefined;
  if (!ip || !transport) return undefined;
  const ends = [`${ip.src}#${transport.srcport}`, `${ip.dst}#${transport.dstport}`].sort();
  return `${l.tcp ? 'tcp' : l.udp ? 'udp' : 'sctp'} ${ends.join(' ')}`;
}

test('--workers 2 spreads packets by flow and writes, packet for packet, what one process reading the file writes', async () => {
  const captures = [
    httpPcap,
    dnsPcap,
    postPcap,
    path.join(corpusDir, 'sctp-www.pcap'), // SCTP
    path.join(corpusDir, 'v6.pcap'), // IPv6, TCP and UDP
    path.join(corpusDir, 'pppoe.pcap'), // IP inside PPPoE sessions
    path.join(corpusDir, 'gre-sample.pcap'), // GRE tunnels
    path.join(corpusDir, 'erspan.pcap'), // ERSPAN mirrored over GRE, its outer IP packets fragmented
    path.join(corpusDir, 'vlan-pcp-dei.pcapng'), // 802.1Q tags, a pcapng source
  ];
  const taken = [0, 0];
  for (const capture of captures) {
    const file = espcap(['--file', capture, '--output', '-']);
    assert.equal(file.status, 0, file.stderr);
    const expected = parseNdjson(file.stdout);
    const { docs, stderr } = liveFromFile(capture, 2);
    const name = path.basename(capture);
    // Every packet once, numbered in capture order as in the file.
    assert.deepEqual(docs.map((d) => d.frame_number).sort((a, b) => a - b), expected.map((_, i) => i + 1), name);
    const live = byFrame(docs);
    for (const want of expected) {
      const got = live.get(want.frame_number)!;
      // Reassembly, TCP analysis, request/response matching, frame.time_delta and
      // frame.time_relative: all as in one process.
      assert.deepEqual(without(got, PER_PROCESS), without(want, PER_PROCESS), `${name} frame ${want.frame_number}`);
      assert.equal(got.capture, 'live');
    }
    perWorker(stderr).forEach((n, i) => (taken[i] += n));
  }
  assert.ok(taken[0] > 0 && taken[1] > 0, `both workers took packets: ${taken}`);
  assert.ok(Math.min(...taken) / Math.max(...taken) > 0.3, `neither worker idles: ${taken}`);
});

test('both directions of every connection go to the same worker, and (session_start_frame, tcp.stream) names one connection', async () => {
  const http = liveFromFile(httpPcap, 2).docs;
  for (const capture of [httpPcap, path.join(corpusDir, 'v6.pcap'), path.join(corpusDir, 'sctp-www.pcap')]) {
    const docs = capture === httpPcap ? http : liveFromFile(capture, 2).docs;
    // A worker's session starts at the first frame it dissects: the two workers' differ.
    const workerOfFlow = new Map<string, Set<number>>();
    for (const d of docs) {
      const flow = flowOf(d);
      if (flow === undefined) continue;
      if (!workerOfFlow.has(flow)) workerOfFlow.set(flow, new Set());
      workerOfFlow.get(flow)!.add(d.session_start_frame);
    }
    assert.ok(workerOfFlow.size >= 3, `${capture}: ${workerOfFlow.size} flows`);
    for (const [flow, sessions] of workerOfFlow) assert.equal(sessions.size, 1, `${path.basename(capture)}: ${flow} dissected by ${sessions.size} workers`);
    assert.equal(new Set(docs.map((d) => d.session_start_frame)).size, 2, 'both workers dissected packets');
  }
  // tcp.stream counts per process: alone it may name two connections, with session_start_frame one.
  const connections = new Map<string, Set<string>>();
  for (const d of http.filter((d) => d.layers.tcp)) {
    const key = `${d.session_start_frame}/${d.layers.tcp.stream}`;
    if (!connections.has(key)) connections.set(key, new Set());
    connections.get(key)!.add(flowOf(d)!);
  }
  for (const [key, flows] of connections) assert.equal(flows.size, 1, key);
  const tsharkConnections = new Set((await tsharkFields(httpPcap, ['tcp.stream'])).map((r) => r[0][0]).filter(Boolean));
  assert.equal(connections.size, tsharkConnections.size, 'one (session_start_frame, tcp.stream) per connection tshark counts');
  const streams = new Set(http.filter((d) => d.layers.tcp).map((d) => d.layers.tcp.stream));
  assert.ok(streams.size < connections.size, 'tcp.stream alone repeats across workers');
});

test('a link type whose flows are not told apart goes to one dissecting process, said once; every packet arrives', () => {
  const capture = path.join(corpusDir, 'http_PPI.pcap'); // 802.11 with PPI headers
  const expected = parseNdjson(espcap(['--file', capture, '--output', '-']).stdout).length;
  const out = path.join(tempDir('workers'), 'ppi.ndjson');
  const run = espcap(['--nic', 'test0', '--test-live-source', capture, '--workers', '2', '--output', out]);
  assert.equal(run.status, 0, run.stderr);
  assert.equal((run.stderr.match(/whose flows espcap does not tell apart: one dissecting process takes every packet/g) ?? []).length, 1, run.stderr);
  assert.doesNotMatch(run.stderr, /worker 2 of 2/);
  assert.equal(parseNdjson(fs.readFileSync(out, 'utf8')).length, expected);
});

test('live --workers: above 1 needs an output other than standard output; with --count the capture stops at exactly that many', () => {
  const refused = espcap(['--nic', 'test0', '--test-live-source', httpPcap, '--workers', '2']);
  assert.equal(refused.status, 2);
  assert.equal(refused.stderr, 'espcap: --workers above 1 needs --output FILE or --node: on standard output the packets of several processes would interleave out of order\n');
  const { docs, stderr } = liveFromFile(httpPcap, 2, ['--count', '500']);
  assert.deepEqual(docs.map((d) => d.frame_number).sort((a, b) => a - b), Array.from({ length: 500 }, (_, i) => i + 1));
  assert.match(stderr, /500 packets captured on test0 .* 500 dissected; .*, stopped at --count 500/);
  assert.equal(perWorker(stderr).reduce((a, b) => a + b), 500);
});

test('each worker replaces its own process past --worker-max-rss: no packet lost or repeated, counted per worker', () => {
  // 82,582 packets of many TCP connections; 150 MB is below a dissecting process's size: each is replaced after 10,000 packets (once or more in this 2-second run).
  const capture = path.join(tempDir('workers'), 'echo-connections.pcap');
  execFileSync('sh', ['-c', `gzip -dc '${path.join(corpusDir, 'echo-connections.pcap.gz')}' > '${capture}'`]);
  const { docs, stderr } = liveFromFile(capture, 2, ['--worker-max-rss', '150', '--stats-interval', '3600']);
  const frames = docs.map((d) => d.frame_number).sort((a, b) => a - b);
  assert.equal(frames.length, 82582);
  assert.deepEqual(frames, frames.map((_, i) => i + 1), 'every frame number once');
  const last = JSON.parse(stderr.split('\n').filter((l) => l.startsWith('{')).pop()!);
  for (const w of last.workers) assert.ok(w.processes >= 2 && w.crashes === 0, JSON.stringify(last.workers));
  const replaced = last.workers.reduce((n: number, w: Doc) => n + w.processes - 1, 0);
  assert.match(stderr, new RegExp(`, dissecting process replaced ${replaced} times to bound memory`));
  assert.match(stderr, /worker 1 of 2: \d+ packets, \d+ dissected, 0 dropped by espcap, \d+ processes/);
  // Each process of a worker starts its own session: (session_start_frame, tcp.stream) still names one connection.
  const connections = new Map<string, string>();
  for (const d of docs.filter((d) => d.layers.tcp)) {
    const key = `${d.session_start_frame}/${d.layers.tcp.stream}`;
    assert.equal(connections.get(key) ?? flowOf(d), flowOf(d), key);
    connections.set(key, flowOf(d)!);
  }
});

test('--workers 2 into Elasticsearch: one document per packet, and in the index (session_start_frame, tcp.stream) is one connection', async () => {
  await resetCluster();
  const run = espcap(['--nic', 'test0', '--test-live-source', httpPcap, '--workers', '2', '--node', esUrl()]);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, /1268 packets read, 1268 indexed/);
  assert.equal(await count({ term: { capture: 'live' } }), 1268);
  // Every (session_start_frame, tcp.stream) pair, with the connections (address and port pairs) indexed under it.
  const result = await es('POST', '/packets-*/_search', {
    size: 0,
    query: { exists: { field: 'layers.tcp.stream' } },
    aggs: {
      streams: {
        composite: { size: 1000, sources: [{ session: { terms: { field: 'session_start_frame' } } }, { stream: { terms: { field: 'layers.tcp.stream' } } }] },
        aggs: { src: { terms: { field: 'layers.tcp.srcport', size: 10 } }, dst: { terms: { field: 'layers.tcp.dstport', size: 10 } } },
      },
    },
  });
  type Terms = { buckets: { key: number }[] };
  const buckets = result.aggregations.streams.buckets as { key: { session: number; stream: number }; doc_count: number; src: Terms; dst: Terms }[];
  const tsharkConnections = new Set((await tsharkFields(httpPcap, ['tcp.stream'])).map((r) => r[0][0]).filter(Boolean));
  assert.equal(buckets.length, tsharkConnections.size, 'one pair per connection tshark counts');
  assert.equal(new Set(buckets.map((b) => b.key.session)).size, 2, 'both workers');
  for (const b of buckets) {
    const ports = new Set([...b.src.buckets, ...b.dst.buckets].map((t) => t.key));
    assert.equal(ports.size, 2, `${JSON.stringify(b.key)}: the two ports of one connection, got ${[...ports]}`);
  }
  assert.equal(buckets.reduce((n, b) => n + b.doc_count, 0), (await tsharkFields(httpPcap, ['tcp.stream'], ['-Y', 'tcp'])).length);
});

// ---- on a veth pair between private namespaces

const cannot = canMakeNetworks();
let net: VethPair;
before(() => {
  if (!cannot) net = new VethPair('w');
});
after(() => net?.remove());

const startCapture = (t: TestContext, args: string[]) => startOn(net, t, args);

/** Waits until the last --stats-interval line says `dissected` reached `packets`. */
async function dissectedAtLeast(capture: Capture, packets: number, seconds = 30): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const stats = capture.stderr().split('\n').filter((l) => l.startsWith('{'));
    if (stats.length && JSON.parse(stats[stats.length - 1]).dissected >= packets) return;
    if (Date.now() > deadline) throw new Error(`fewer than ${packets} packets dissected:\n${capture.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The espcap process in the capture namespace and its dissecting processes. */
function processes(): { espcap: number; workers: number[] } {
  const espcapPid = Number(execFileSync('pgrep', ['-f', `${espcapBin} --nic ${net.nic}`], { encoding: 'utf8' }).trim().split('\n')[0]);
  const workers = fs.readFileSync(`/proc/${espcapPid}/task/${espcapPid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  return { espcap: espcapPid, workers };
}

function tsharkRow(values: string[][]): string {
  return JSON.stringify(values.map((v) => v[0] ?? null));
}

function documentRow(d: Doc): string {
  const l = d.layers;
  const first = (v: unknown) => (v === undefined ? null : String(Array.isArray(v) ? v[0] : v));
  return JSON.stringify([String(d.length), first(l.ip?.src), first(l.ip?.dst), first(l.tcp?.srcport), first(l.tcp?.dstport), first(l.http?.request_method)]);
}

test('--workers 2 on a real interface: every replayed packet once, with the fields tshark reads, HTTP requests over several segments reassembled', { skip: cannot }, async (t) => {
  const out = path.join(tempDir('workers'), 'veth.ndjson');
  const total = 1268 + 38;
  const capture = await startCapture(t, ['--workers', '2', '--output', out, '--count', String(total)]);
  assert.match(capture.stderr(), /2 dissecting processes sharing it by flow/);
  net.replay(httpPcap, 2000);
  net.replay(postPcap, 500);
  assert.equal(await exitWithin(capture, 60, `stop at --count ${total}`), 0, capture.stderr());
  const docs = parseNdjson(fs.readFileSync(out, 'utf8')).sort((a, b) => a.frame_number - b.frame_number);
  assert.deepEqual(docs.map((d) => d.frame_number), Array.from({ length: total }, (_, i) => i + 1));
  const fields = ['frame.len', 'ip.src', 'ip.dst', 'tcp.srcport', 'tcp.dstport', 'http.request.method'];
  const expected = [...(await tsharkFields(httpPcap, fields)), ...(await tsharkFields(postPcap, fields))].map(tsharkRow);
  assert.deepEqual(docs.map(documentRow), expected);
  // Each POST spans several segments: reassembled by the worker that had both directions of its connection.
  const posts = docs.slice(1268).filter((d) => d.layers.http?.request_method === 'POST');
  const tsharkPosts = await tsharkFields(postPcap, ['tcp.reassembled.length', 'http.content_length_header'], ['-Y', 'http.request.method == "POST"']);
  assert.equal(posts.length, tsharkPosts.length);
  assert.ok(posts.length >= 1);
  posts.forEach((d, i) => {
    assert.equal(String(d.layers.tcp.reassembled_length), tsharkPosts[i][0][0]);
    assert.equal(String(d.layers.http.content_length_header), tsharkPosts[i][1][0]);
  });
  // Both directions of each connection in one worker (whose session started at its first frame).
  const workerOfFlow = new Map<string, Set<number>>();
  for (const d of docs) {
    const flow = flowOf(d);
    if (flow !== undefined) workerOfFlow.set(flow, (workerOfFlow.get(flow) ?? new Set()).add(d.session_start_frame));
  }
  const tcpStreams = new Set((await tsharkFields(httpPcap, ['tcp.stream'])).map((r) => r[0][0]).filter(Boolean));
  assert.ok(workerOfFlow.size >= tcpStreams.size, `${workerOfFlow.size} flows, ${tcpStreams.size} TCP connections in ${httpPcap}`);
  for (const [flow, sessions] of workerOfFlow) assert.equal(sessions.size, 1, `${flow} dissected by ${sessions.size} workers`);
  const taken = perWorker(capture.stderr());
  assert.equal(taken.length, 2);
  assert.ok(taken.every((n) => n > 0), `both workers took packets: ${taken}`);
  assert.match(capture.stderr(), new RegExp(`${total} packets captured on espcap0 .* ${total} dissected; dropped: 0 by the kernel, 0 by the interface, 0 by espcap, stopped at --count ${total}`));
});

test('Ctrl-C with --workers 2: every worker flushes what it has; the summary and --stats-interval show each', { skip: cannot }, async (t) => {
  const out = path.join(tempDir('workers'), 'sigint.ndjson');
  const capture = await startCapture(t, ['--workers', '2', '--output', out, '--stats-interval', '1']);
  net.replay(httpPcap, 3000);
  net.replay(dnsPcap, 2000);
  await new Promise((r) => setTimeout(r, 1000));
  await stopWithCtrlC(capture);
  const docs = parseNdjson(fs.readFileSync(out, 'utf8'));
  assert.equal(docs.length, 1268 + 108);
  assert.match(capture.stderr(), /1376 packets captured on espcap0 .* 1376 dissected; dropped: 0 by the kernel, 0 by the interface, 0 by espcap, interrupted/);
  const taken = perWorker(capture.stderr());
  assert.equal(taken.reduce((a, b) => a + b), 1376);
  const stats = capture.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const last = stats[stats.length - 1];
  assert.deepEqual(last.workers.map((w: Doc) => w.dissected), taken);
  assert.deepEqual(last.workers.map((w: Doc) => w.captured), taken);
  assert.ok(last.capture_cpu_seconds > 0);
});

test('a dissecting process killed: said, its worker gets a fresh process, capture goes on and later packets all arrive', { skip: cannot }, async (t) => {
  const out = path.join(tempDir('workers'), 'killed.ndjson');
  const capture = await startCapture(t, ['--workers', '2', '--output', out, '--stats-interval', '1']);
  net.replay(dnsPcap, 2000);
  await dissectedAtLeast(capture, 108);
  const before = processes().workers;
  assert.equal(before.length, 2);
  process.kill(before[0], 'SIGKILL');
  // Its worker's stream moves to a fresh process.
  for (let waited = 0; processes().workers.filter((p) => !before.includes(p)).length === 0; waited += 100) {
    assert.ok(waited < 10000, 'a fresh process within 10 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  net.replay(httpPcap, 2000);
  await dissectedAtLeast(capture, 108 + 1268);
  await stopWithCtrlC(capture, 1);
  assert.match(capture.stderr(), /a dissecting process of worker [12] died \(signal SIGKILL\); the packets it had not written are lost and counted below/);
  const docs = parseNdjson(fs.readFileSync(out, 'utf8'));
  // What the killed process had written stays; every packet after it arrives.
  const later = docs.filter((d) => d.frame_number > 108).sort((a, b) => a.frame_number - b.frame_number);
  assert.deepEqual(later.map((d) => d.frame_number), Array.from({ length: 1268 }, (_, i) => 109 + i));
  assert.deepEqual(later.map(documentRow), (await tsharkFields(httpPcap, ['frame.len', 'ip.src', 'ip.dst', 'tcp.srcport', 'tcp.dstport', 'http.request.method'])).map(tsharkRow));
  assert.match(capture.stderr(), /1376 packets captured on espcap0 .* 1376 dissected; dropped: 0 by the kernel, 0 by the interface, 0 by espcap, interrupted/);
});
