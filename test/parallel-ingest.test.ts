// Bulk ingest of a directory tree with several dissecting processes into the
// real test Elasticsearch: counts per index against tshark, resume after the
// run is killed, a second run with nothing left to do, a dissecting process
// killed mid-run, and the same documents whatever the number of workers.
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { corpusDir, espcapBin, tempDir, testPcaps } from './support/paths';
import { espcap, tshark } from './support/programs';
import { countsPerIndex, es, esUrl, indexedSoFar, packetIndices, resetCluster, summary, tsharkCountsPerIndex, waitForIndexed } from './support/elasticsearch';
import { Progress } from '../src/cli/progress';

const broken = 'bad_truncated_mid_record.pcap'; // 33 whole packets, then cut short

/**
 * A tree as archives look: nested folders, pcap, pcapng, gzip-compressed
 * captures, a file that is not a capture and a broken capture.
 */
function buildTree(): { dir: string; captures: string[] } {
  const dir = tempDir('tree');
  const place: [string, string][] = [
    [path.join(corpusDir, 'echo-connections.pcap.gz'), 'big/2019/echo-connections.pcap.gz'],
    [path.join(corpusDir, 'modbusBig.pcap'), 'big/2020/modbusBig.pcap'],
    [path.join(corpusDir, 'cwd-navigation.pcap'), 'ftp/cwd-navigation.pcap'],
    [path.join(corpusDir, '1000-requests-one-dropped-response.pcap.gz'), 'web/http/1000-requests.pcap.gz'],
    [path.join(testPcaps, 'test_http.pcap'), 'web/http/test_http.pcap'],
    [path.join(testPcaps, 'dns-binds.pcap'), 'dns/dns-binds.pcap'],
    [path.join(testPcaps, 'pcapng-multi-interface.pcapng'), 'dns/pcapng-multi-interface.pcapng'],
    [path.join(testPcaps, 'ipv6-gtp6.pcap'), 'tunnels/ipv6-gtp6.pcap'],
    [path.join(corpusDir, broken), `broken/${broken}`],
  ];
  for (const [from, to] of place) {
    fs.mkdirSync(path.dirname(path.join(dir, to)), { recursive: true });
    fs.copyFileSync(from, path.join(dir, to));
  }
  fs.writeFileSync(path.join(dir, 'web', 'README.txt'), 'captures of the web servers\n');
  return { dir, captures: place.map(([, to]) => path.join(dir, to)) };
}

const tree = buildTree();
let expected: Map<string, number>;
let expectedTotal: number;

async function expectedCounts(): Promise<Map<string, number>> {
  if (!expected) {
    expected = await tsharkCountsPerIndex(tree.captures);
    expectedTotal = [...expected.values()].reduce((a, b) => a + b, 0);
  }
  return expected;
}

const deadLetter = () => ['--dead-letter', path.join(tempDir('dl'), 'dead.ndjson')];

function ingest(extra: string[] = []) {
  return espcap(['--dir', tree.dir, '--node', esUrl(), '--workers', '2', ...deadLetter(), ...extra]);
}

/** Documents per file_name in Elasticsearch. */
async function countsPerFile(): Promise<Map<string, number>> {
  await es('POST', '/packets-*/_refresh');
  const r = await es('POST', '/packets-*/_search', { size: 0, aggs: { files: { terms: { field: 'file_name', size: 100 } } } });
  return new Map(r.aggregations.files.buckets.map((b: { key: string; doc_count: number }) => [b.key, b.doc_count]));
}

test('a directory tree with 2 workers: per index, _count equals tshark; the broken and the non-capture file are reported', async () => {
  await resetCluster();
  const run = ingest();
  assert.equal(run.status, 1, 'a broken file makes the exit code 1');
  const counts = await expectedCounts();
  assert.deepEqual(new Map([...(await countsPerIndex())].sort()), new Map([...counts].sort()));
  assert.deepEqual(summary(run.stderr), { read: expectedTotal, indexed: expectedTotal, duplicates: 0, deadLettered: 0, notSent: 0, retries: 0 });
  assert.match(run.stderr, new RegExp(`skipped .*web/README.txt: not a capture file`));
  assert.match(run.stderr, new RegExp(`broken/${broken}: .*\\(after 33 packets\\)`));
  assert.match(run.stderr, /packets from 9 capture files .* with 2 workers, 1 failed/);
});

test('the same directory again: nothing is indexed twice and only the broken file is read again', async () => {
  // Follows the test above: the cluster holds the whole tree.
  const before = await countsPerIndex();
  const started = Date.now();
  const run = ingest();
  const seconds = (Date.now() - started) / 1000;
  assert.equal(run.status, 1, run.stderr);
  assert.match(run.stderr, /8 of 10 files already fully indexed by an earlier run: skipped/);
  // The broken file is never recorded as done: it is read again and fails again.
  assert.deepEqual(summary(run.stderr), { read: 33, indexed: 0, duplicates: 33, deadLettered: 0, notSent: 0, retries: 0 });
  assert.deepEqual(await countsPerIndex(), before);
  assert.ok(seconds < 10, `nothing left to do, yet it took ${seconds} s`);
});

test('packets deleted since the last run: the files are indexed again, not skipped on the word of the state', async () => {
  const indices = await packetIndices();
  await es('DELETE', '/' + indices.join(','));
  const run = ingest();
  assert.equal(run.status, 1, run.stderr);
  assert.doesNotMatch(run.stderr, /already fully indexed/);
  assert.equal(summary(run.stderr).indexed, expectedTotal);
  assert.deepEqual(new Map([...(await countsPerIndex())].sort()), new Map([...(await expectedCounts())].sort()));
});

test('a run killed part-way (SIGKILL, as a crash or reboot) and started again: exact counts, no duplicates', async (t) => {
  await resetCluster();
  await expectedCounts();
  const child = spawn(process.execPath, [espcapBin, '--dir', tree.dir, '--node', esUrl(), '--workers', '2', '--chunk', '500', ...deadLetter()], { detached: true });
  t.after(() => child.exitCode === null && child.signalCode === null && process.kill(-child.pid!, 'SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  // Kill it once some files are recorded as done and the biggest one is still going.
  for (;;) {
    // Files recorded as done (not the claims of files being read); 503 while the state index is being created.
    const state = await es('POST', '/espcap-ingest-state/_count', { query: { match: { status: 'done' } } }).catch(() => ({ count: 0 }));
    if ((state.count ?? 0) >= 2) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  // Everything at once, as a crash or reboot would: espcap and its dissecting processes (own process groups).
  const workers = fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  process.kill(-child.pid!, 'SIGKILL');
  for (const pid of workers) process.kill(pid, 'SIGKILL');
  await exited;
  const partial = await indexedSoFar();
  assert.ok(partial > 0 && partial < expectedTotal, `killed part-way: ${partial} of ${expectedTotal} indexed (${stderr})`);

  const again = ingest();
  assert.equal(again.status, 1, again.stderr); // the broken file
  const skipped = Number(/(\d+) of 10 files already fully indexed/.exec(again.stderr)?.[1] ?? 0);
  assert.ok(skipped >= 2, `the files done before the kill are skipped:\n${again.stderr}`);
  const s = summary(again.stderr);
  assert.equal(s.read, s.indexed + s.duplicates);
  // Documents are created with deterministic ids: equal counts mean every packet once.
  assert.deepEqual(new Map([...(await countsPerIndex())].sort()), new Map([...expected].sort()));
});

test('a dissecting process killed mid-run: its file is reported, every other file is indexed completely', async (t) => {
  await resetCluster();
  const child = spawn(process.execPath, [espcapBin, '--dir', tree.dir, '--node', esUrl(), '--workers', '2', '--chunk', '500', ...deadLetter()], { detached: true });
  t.after(() => child.exitCode === null && child.signalCode === null && process.kill(-child.pid!, 'SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  await waitForIndexed(2000);
  const workers = fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  assert.ok(workers.length >= 1);
  process.kill(workers[0], 'SIGKILL');
  assert.equal(await exited, 1, stderr);
  const died = [...stderr.matchAll(/espcap: (\S+): the dissecting process died \(signal SIGKILL\)/g)].map((m) => m[1]);
  assert.equal(died.length, 1, stderr);
  assert.match(stderr, /Elasticsearch: \d+ packets read/, 'the run still ends with its summary');
  const perFile = await countsPerFile();
  for (const capture of tree.captures) {
    if (capture === died[0] || capture.endsWith(broken)) continue;
    const packets = (await tshark(['-r', capture, '-T', 'fields', '-e', 'frame.number'])).split('\n').length - 1;
    assert.equal(perFile.get(capture), packets, `${capture} indexed completely; espcap said:\n${stderr}`);
  }
});

test('--output FILE with 2 workers holds the same documents as with 1', async () => {
  await expectedCounts();
  const out = tempDir('parallel-output');
  const one = espcap(['--dir', tree.dir, '--output', path.join(out, 'one.ndjson'), '--workers', '1', '--quiet']);
  const two = espcap(['--dir', tree.dir, '--output', path.join(out, 'two.ndjson'), '--workers', '2', '--quiet']);
  assert.equal(one.status, 1, one.stderr);
  assert.equal(two.status, 1, two.stderr);
  const lines = (f: string) => fs.readFileSync(path.join(out, f), 'utf8').split('\n').filter(Boolean);
  const a = lines('one.ndjson');
  const b = lines('two.ndjson');
  assert.equal(a.length, expectedTotal);
  assert.equal(b.length, a.length);
  assert.deepEqual(b.sort(), a.sort());
});

test('--workers: wrong combinations are usage errors', () => {
  for (const args of [
    ['--dir', testPcaps, '--workers', '2'],
    ['--dir', testPcaps, '--output', '-', '--workers', '2'],
    ['--dir', testPcaps, '--output', '/tmp/x.ndjson', '--workers', '2', '--count', '5'],
    ['--dir', testPcaps, '--output', '/tmp/x.ndjson', '--workers', '0'],
    ['--dir', testPcaps, '--output', '/tmp/x.ndjson', '--no-resume'],
  ]) {
    const run = espcap(args);
    assert.equal(run.status, 2, args.join(' '));
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
  }
});

test('progress line: files, packets, rates and ETA from what was read', () => {
  const written: string[] = [];
  const out = { isTTY: false, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
  const progress = new Progress(10, 10_000_000, out);
  const started = Date.now();
  progress.start(started);
  progress.add(1000, 2_000_000);
  progress.fileRead(false);
  progress.fileRead(true);
  const line = progress.line(started + 2000);
  progress.stop();
  assert.equal(line, 'files 2/10 (1 failed)  packets 1,000  500/s  bytes 2.0 MB/10.0 MB  1.0 MB/s  ETA 8s');
});

test('searchable at exit: with 2 workers and processes replaced for memory, a search started as espcap exits counts every document, without a refresh of its own', { timeout: 600_000 }, async () => {
  await resetCluster();
  // Many files, and a memory limit low enough that dissecting processes are replaced mid-run.
  const dir = tempDir('at-exit');
  const files = fs.readdirSync(corpusDir).filter((f) => /\.pcap(ng)?$/.test(f) && !f.startsWith('bad_')).slice(0, 120);
  for (const f of files) fs.copyFileSync(path.join(corpusDir, f), path.join(dir, f));
  const run = espcap(['--dir', dir, '--node', esUrl(), '--workers', '2', '--worker-max-rss', '150', '--session-packets', '2000']);
  const indexed = summary(run.stderr).indexed;
  assert.ok(indexed > 10000, run.stderr);
  assert.match(run.stderr, /restarted \d+ time/, 'dissecting processes were replaced');
  // No refresh here: the indices refresh by themselves only every 30 s.
  const counted = (await es('GET', '/packets-*/_count')).count;
  assert.equal(counted, indexed, run.stderr);
});
