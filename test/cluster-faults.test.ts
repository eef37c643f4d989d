// Faults of a real three-node cluster while espcap indexes: a node crashes
// and comes back, the whole cluster is down for 30 s, writes are blocked and
// unblocked, writes stay blocked, the dead-letter disk is full. After each:
// every packet indexed exactly once, or accounted for with a reason.
//
// The cluster is three Elasticsearch processes on loopback (the same
// distribution the other tests use), started here and removed at the end;
// indices get the default of one replica, so every shard has a copy on a
// second node. The harness starts it even when the other tests run against a
// cluster given in ESPCAP_TEST_ES_URL.
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { corpusEntries, tempDir, testPcaps } from './support/paths';
import { parseNdjson } from './support/programs';
import { count, es, indexedSoFar, summary, tsharkCountsPerIndex } from './support/elasticsearch';
import * as harness from './cluster';

const espcapBin = path.join(__dirname, '..', '..', 'bin', 'espcap.js');
const capture = corpusEntries().find((e) => e.file === 'echo-connections.pcap.gz')!; // 82,582 packets, one day
let cluster: harness.TestCluster;
let base: string;

before(async () => {
  cluster = await harness.startCluster({ nodes: 3, quiet: true });
  base = cluster.urls[0];
});

// An espcap a failed test left running would keep retrying, and this file from ending.
const running = new Set<ChildProcess>();

after(async () => {
  for (const child of running) child.kill('SIGKILL');
  await cluster?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Any node that answers: the test's own requests must survive the faults too. */
async function anyNode<T>(request: (url: string) => Promise<T>): Promise<T> {
  let last: unknown;
  for (let round = 0; round < 120; round++) {
    for (const url of cluster.urls) {
      try {
        return await request(url);
      } catch (err) {
        last = err;
      }
    }
    await sleep(500);
  }
  throw last;
}

const BLOCKS = ['read_only_allow_delete', 'read_only', 'write'];

async function clean(): Promise<void> {
  const rows = (await es('GET', '/_cat/indices/packets-*,espcap-ingest-*?format=json&h=index', undefined, base)) as { index: string }[];
  if (!rows.length) return;
  const names = rows.map((r) => r.index).join(',');
  // A read-only index cannot even be deleted: lift what an earlier test may have left.
  await es('PUT', `/${names}/_settings`, Object.fromEntries(BLOCKS.map((b) => [`index.blocks.${b}`, null])), base);
  await es('DELETE', '/' + names, undefined, base);
}

/** espcap indexing into all three nodes, in the background. */
function ingest(file: string, extra: string[] = []) {
  const child = spawn(process.execPath, [espcapBin, '--file', file, '--node', cluster.urls.join(','), '--chunk', '500', ...extra]);
  running.add(child);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  return { exited, stderr: () => stderr };
}

async function waitForDocuments(n: number, seconds = 120): Promise<void> {
  const until = Date.now() + seconds * 1000;
  for (let seen = 0; (seen = await anyNode((url) => indexedSoFar(url))) < n; await sleep(200))
    assert.ok(Date.now() < until, `waited ${seconds} s for ${n} documents, ${seen} indexed`);
}

/** Every packet of the capture is in the cluster exactly once: N documents, frame numbers 1..N each once. */
async function assertExactlyOnce(packets: number): Promise<void> {
  assert.equal(await anyNode((url) => count({ match_all: {} }, url)), packets, 'one document per packet');
  const result = await anyNode((url) =>
    es('POST', '/packets-*/_search', {
      size: 0,
      aggs: { repeated: { terms: { field: 'frame_number', min_doc_count: 2, size: 5 } }, frames: { stats: { field: 'frame_number' } } },
    }, url),
  );
  assert.deepEqual(result.aggregations.repeated.buckets, [], 'no frame indexed twice');
  assert.equal(result.aggregations.frames.min, 1);
  assert.equal(result.aggregations.frames.max, packets);
}

/** The node that holds the primary copy of the capture's index. */
async function primaryNode(): Promise<number> {
  const shards = (await es('GET', '/_cat/shards/packets-*?format=json&h=prirep,node', undefined, base)) as { prirep: string; node: string }[];
  const name = shards.find((s) => s.prirep === 'p')!.node; // node-1, node-2, node-3
  return Number(name.replace('node-', '')) - 1;
}

test('the node holding the primary crashes (SIGKILL) mid-run and comes back: every packet once, exit code 0, retries reported', async () => {
  await clean();
  const run = ingest(capture.path);
  await waitForDocuments(15000);
  const victim = await primaryNode();
  await cluster.kill(victim);
  await sleep(5000);
  await cluster.start([victim]);

  assert.equal(await run.exited, 0, run.stderr());
  const s = summary(run.stderr());
  assert.equal(s.read, capture.packets);
  // A write the node finished before it died may answer 409 when it is sent
  // again: by espcap (its answer was lost) or by Elasticsearch itself (the
  // new primary already has it). Either way it is there, once.
  assert.equal(s.indexed + s.duplicates, capture.packets);
  assert.equal(s.deadLettered + s.notSent, 0);
  assert.ok(s.retries > 0, 'the crash was noticed and retried');
  await assertExactlyOnce(capture.packets!);
});

test('the whole cluster stopped for 30 s mid-run and started again: every packet once, exit code 0', async () => {
  await clean();
  const run = ingest(capture.path);
  await waitForDocuments(15000);
  for (let node = 0; node < 3; node++) await cluster.stop(node);
  const before = Date.now();
  await sleep(30000);
  assert.ok(Date.now() - before >= 30000);
  await cluster.start();

  assert.equal(await run.exited, 0, run.stderr());
  const s = summary(run.stderr());
  assert.equal(s.read, capture.packets);
  assert.equal(s.indexed + s.duplicates, capture.packets, 'indexed, or found there after a lost answer (see above)');
  assert.equal(s.deadLettered + s.notSent, 0);
  assert.ok(s.retries > 0);
  await assertExactlyOnce(capture.packets!);
});

for (const [block, status] of [
  ['read_only_allow_delete', 429], // what Elasticsearch sets itself when a disk passes the flood-stage watermark
  ['read_only', 403], // what an administrator sets
] as const) {
  test(`index.blocks.${block} (${status}) set mid-run and lifted 10 s later: espcap waits it out, nothing lost`, async () => {
    await clean();
    const run = ingest(capture.path);
    await waitForDocuments(15000);
    await es('PUT', '/packets-*/_settings', { [`index.blocks.${block}`]: true }, base);
    try {
      await sleep(2000); // requests past the block check when it was set still finish
      const blockedAt = await indexedSoFar(base);
      await sleep(8000);
      assert.equal(await indexedSoFar(base), blockedAt, 'nothing was written while blocked');
    } finally {
      await es('PUT', '/packets-*/_settings', { [`index.blocks.${block}`]: null }, base);
    }

    assert.equal(await run.exited, 0, run.stderr());
    const s = summary(run.stderr());
    assert.equal(s.indexed, capture.packets);
    assert.equal(s.duplicates + s.deadLettered + s.notSent, 0);
    assert.ok(s.retries > 0);
    await assertExactlyOnce(capture.packets!);
  });
}

const dnsPcap = path.join(testPcaps, 'test_dns.pcap');

/** A packets index for the day of test_dns.pcap, created blocked for writes. */
async function blockedIndex(): Promise<{ index: string; packets: number }> {
  const [[index, packets], ...more] = [...(await tsharkCountsPerIndex([dnsPcap]))];
  assert.equal(more.length, 0);
  await es('PUT', `/${index}`, { settings: { 'index.blocks.write': true } }, base);
  return { index, packets };
}

test('writes blocked for good: past --retry-deadline espcap stops with one line, every packet read is in the dead-letter file with the reason, exit code 1', async () => {
  await clean();
  const { index, packets } = await blockedIndex();
  const deadLetter = path.join(tempDir('blocked'), 'dead letters.ndjson');
  const started = Date.now();
  const run = ingest(dnsPcap, ['--retry-deadline', '3', '--dead-letter', deadLetter, '--quiet']);
  assert.equal(await run.exited, 1, run.stderr());
  assert.ok(Date.now() - started < 60000, 'stopped soon after the deadline');
  const lines = run.stderr().trim().split('\n');
  assert.equal(lines.length, 1, run.stderr());
  assert.equal(
    lines[0],
    `espcap: Elasticsearch accepted no document for ${/for (\d+) s/.exec(lines[0])?.[1]} s: ${index} is blocked for writes by index.blocks.write, set by an administrator: ` +
      `lift it with PUT /${index}/_settings {"index.blocks.write": null}; stopped; the documents it refused are in ${deadLetter}; run the same command again to index the rest`,
  );
  const letters = parseNdjson(fs.readFileSync(deadLetter, 'utf8'));
  assert.equal(letters.length, packets);
  for (const letter of letters) {
    assert.equal(letter.index, index);
    assert.equal(letter.status, 403);
    assert.equal(letter.error.type, 'cluster_block_exception');
    assert.equal(typeof letter.document.layers, 'object', 'the whole document is kept');
  }
  assert.deepEqual(letters.map((l) => l.document.frame_number), Array.from({ length: packets }, (_, i) => i + 1));
});

test('the cluster gone for longer than --retry-deadline: espcap stops with one line instead of waiting the deadline per request', async () => {
  await clean();
  const deadLetter = path.join(tempDir('gone'), 'dead.ndjson');
  const run = ingest(capture.path, ['--retry-deadline', '10', '--dead-letter', deadLetter, '--quiet']);
  await waitForDocuments(5000);
  for (let node = 0; node < 3; node++) await cluster.kill(node);
  const killed = Date.now();
  try {
    assert.equal(await run.exited, 1, run.stderr());
    assert.ok(Date.now() - killed < 60000, `stopped ${Date.now() - killed} ms after the cluster went`);
    const lines = run.stderr().trim().split('\n');
    assert.equal(lines.length, 1, run.stderr());
    // Wherever the outage met it: a bulk request, or the mapping of an index.
    assert.match(lines[0], /^espcap: Elasticsearch( accepted no document for \d+ s|: cannot prepare index packets-[-\d]+): cannot connect: .*; (stopped; .*)?run the same command again to index the rest$/);
    for (const letter of parseNdjson(fs.readFileSync(deadLetter, 'utf8'))) assert.equal(letter.error.type, 'request_failed');
  } finally {
    await cluster.start();
  }
  // Run again: the rest is indexed, what was there stays once.
  const again = ingest(capture.path);
  assert.equal(await again.exited, 0, again.stderr());
  await assertExactlyOnce(capture.packets!);
});

/**
 * Disk watermarks as free space, past what the disk has: Elasticsearch acts
 * as on a full disk. 'high': no new shard may be allocated; 'flood': indices
 * are made read-only too (at the next disk check: every 10 s, its shortest).
 * 'none' lifts them.
 */
async function diskWatermarks(past: 'high' | 'flood' | 'none'): Promise<void> {
  const value = (v: string) => (past === 'none' ? null : v);
  await es('PUT', '/_cluster/settings', {
    persistent: {
      // The harness turns the disk checks off (a developer's disk may be full); here they are the point.
      'cluster.routing.allocation.disk.threshold_enabled': past === 'none' ? null : true,
      'cluster.info.update.interval': '10s',
      'cluster.routing.allocation.disk.watermark.low': value('1000tb'),
      'cluster.routing.allocation.disk.watermark.high': value('999tb'),
      'cluster.routing.allocation.disk.watermark.flood_stage': value(past === 'flood' ? '998tb' : '1b'),
    },
  }, base);
}

/** A cluster in use: espcap's template and resume state are there (made before the disk filled). */
async function inUse(): Promise<void> {
  const run = ingest(path.join(testPcaps, 'dns-binds.pcap'), ['--quiet']);
  assert.equal(await run.exited, 0, run.stderr());
}

async function waitUntil(what: string, seconds: number, probe: () => Promise<boolean>): Promise<void> {
  const until = Date.now() + seconds * 1000;
  while (!(await probe())) {
    assert.ok(Date.now() < until, `waited ${seconds} s for ${what}`);
    await sleep(500);
  }
}

const readOnlyAllowDelete = async (index: string) =>
  (await es('GET', `/${index}/_settings?filter_path=*.settings.index.blocks`, undefined, base))[index]?.settings?.index?.blocks?.read_only_allow_delete === 'true';

let letterCapture = '';
test('a disk past the flood-stage watermark: one line naming it and the way out, exit 1, nothing lost (claims refused; without claims, what was read dead-lettered); once the disk is free the same command indexes every packet once', { timeout: 300_000 }, async () => {
  await clean();
  await inUse();
  const [[index, packets]] = [...(await tsharkCountsPerIndex([dnsPcap]))];
  await es('PUT', `/${index}`, {}, base);
  try {
    await diskWatermarks('flood');
    await waitUntil('Elasticsearch to make the index read-only', 90, () => readOnlyAllowDelete(index));
    // Elasticsearch blocks every index on the node: the first write refused is espcap's claim of the capture.
    const claiming = ingest(dnsPcap, ['--retry-deadline', '3', '--quiet']);
    assert.equal(await claiming.exited, 1, claiming.stderr());
    assert.match(
      claiming.stderr(),
      /^espcap: Elasticsearch: cannot claim \S+test_dns\.pcap: a node holding espcap-ingest-state has less free disk than the flood-stage watermark, .*: free disk space on the node or delete old indices\n$/,
    );
    // Without claims (--no-resume), the documents are refused.
    const deadLetter = path.join(tempDir('flood'), 'dead.ndjson');
    const run = ingest(dnsPcap, ['--no-resume', '--retry-deadline', '3', '--dead-letter', deadLetter, '--quiet']);
    assert.equal(await run.exited, 1, run.stderr());
    const lines = run.stderr().trim().split('\n');
    assert.equal(lines.length, 1, run.stderr());
    assert.match(
      lines[0],
      new RegExp(
        `^espcap: Elasticsearch accepted no document for \\d+ s: a node holding ${index} has less free disk than the flood-stage watermark, so Elasticsearch made the index read-only ` +
          `\\(index\\.blocks\\.read_only_allow_delete; lifted by itself once the disk is below the high watermark\\): free disk space on the node or delete old indices; stopped; `,
      ),
    );
    const letters = parseNdjson(fs.readFileSync(deadLetter, 'utf8'));
    assert.equal(letters.length, packets);
    assert.ok(letters.every((l) => l.status === 429 && l.error.type === 'cluster_block_exception'));
    letterCapture = letters[0].document.capture_id;
  } finally {
    await diskWatermarks('none');
  }
  await waitUntil('Elasticsearch to lift the block itself', 90, async () => !(await readOnlyAllowDelete(index)));
  const again = ingest(dnsPcap, ['--quiet']);
  assert.equal(await again.exited, 0, again.stderr());
  assert.equal(await anyNode((url) => count({ term: { capture_id: letterCapture } }, url)), packets);
});

test('a new index no node may hold (every disk past the high watermark): one line with Elasticsearch\'s reason, exit 1, nothing lost: the next run indexes every packet once', { timeout: 300_000 }, async () => {
  await clean();
  await inUse();
  const [[index, packets]] = [...(await tsharkCountsPerIndex([dnsPcap]))];
  try {
    await diskWatermarks('high');
    // Elasticsearch reads the disks' use only every 10 s once the checks are on: wait until a new index is refused.
    await waitUntil('the high watermark to refuse a new index', 90, async () => {
      await es('PUT', '/probe-watermark?wait_for_active_shards=0', {}, base);
      await sleep(1500); // a primary that may be allocated starts in well under that
      const health = await es('GET', '/_cluster/health/probe-watermark', undefined, base);
      await es('DELETE', '/probe-watermark', undefined, base);
      return health.active_primary_shards === 0;
    });
    const run = ingest(dnsPcap, ['--retry-deadline', '5', '--quiet']);
    assert.equal(await run.exited, 1, run.stderr());
    const lines = run.stderr().trim().split('\n');
    assert.equal(lines.length, 1, run.stderr());
    assert.match(lines[0], new RegExp(`^espcap: Elasticsearch created index ${index}, but no node may hold its shard: .*high watermark.*; free disk space on the nodes or delete old indices; run the same command again to index the rest$`));
  } finally {
    await diskWatermarks('none');
  }
  await es('DELETE', `/${index}`, undefined, base); // what a user would do with an index that has no shard
  const again = ingest(dnsPcap, ['--quiet']);
  assert.equal(await again.exited, 0, again.stderr());
  assert.equal(await anyNode((url) => es('GET', `/${index}/_count`, undefined, url)).then((r) => r.count), packets);
});

test('the in-flight-requests circuit breaker refuses every bulk request ("Data too large", 429): espcap retries, then one line naming the breaker and the way out, exit 1; lifted, the same command indexes every packet once', { timeout: 300_000 }, async () => {
  await clean();
  const [[, packets]] = [...(await tsharkCountsPerIndex([dnsPcap]))];
  const deadLetter = path.join(tempDir('breaker'), 'dead.ndjson');
  // Below one bulk request of this capture (108 documents, about 230 kB), above espcap's other requests.
  await es('PUT', '/_cluster/settings', { persistent: { 'network.breaker.inflight_requests.limit': '100kb' } }, base);
  try {
    const run = ingest(dnsPcap, ['--retry-deadline', '3', '--dead-letter', deadLetter]);
    assert.equal(await run.exited, 1, run.stderr());
    const stderr = run.stderr();
    // While it retries, the user is told why, once.
    assert.equal([...stderr.matchAll(/warning: Elasticsearch refuses for now: Elasticsearch's circuit breaker refuses the requests \(its inflight_requests memory would reach .+, past the limit of 100kb\): give its nodes more heap, or send less at once \(--bulk-mb, --bulk-inflight\); retrying for up to 3 s/g)].length, 1, stderr);
    assert.match(stderr, /\nespcap: Elasticsearch accepted no document for \d+ s: Elasticsearch's circuit breaker refuses the requests \(its inflight_requests memory would reach .+, past the limit of 100kb\): .*; stopped; /);
    assert.equal(parseNdjson(fs.readFileSync(deadLetter, 'utf8')).length, packets);
  } finally {
    await es('PUT', '/_cluster/settings', { persistent: { 'network.breaker.inflight_requests.limit': null } }, base);
  }
  const again = ingest(dnsPcap, ['--quiet']);
  assert.equal(await again.exited, 0, again.stderr());
  await assertExactlyOnce(packets);
});

const root = process.getuid?.() === 0;

test('the dead-letter file on a full disk: a one-line error, exit code 1, what was written stays whole', { skip: !root && 'mounting a small file system needs root' }, async () => {
  await clean();
  const { packets } = await blockedIndex();
  const mount = tempDir('full-disk');
  // 16 KiB: room for a few dead letters of test_dns.pcap, not for all of them.
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'espcap-test', mount]);
  try {
    const deadLetter = path.join(mount, 'dead.ndjson');
    const run = ingest(dnsPcap, ['--retry-deadline', '1', '--dead-letter', deadLetter]);
    assert.equal(await run.exited, 1, run.stderr());
    const errors = run.stderr().split('\n').filter((l) => /dead-letter/.test(l) && /no space left on device/i.test(l));
    assert.equal(errors.length, 1, run.stderr());
    assert.doesNotMatch(run.stderr(), /\n\s+at /, 'no stack trace');
    const text = fs.readFileSync(deadLetter, 'utf8');
    assert.ok(text.length > 0 && text.endsWith('\n'), 'only whole lines');
    const letters = parseNdjson(text); // throws on a torn line
    assert.ok(letters.length > 0 && letters.length < packets, `${letters.length} of ${packets} fit`);
    assert.deepEqual(letters.map((l) => l.document.frame_number), Array.from({ length: letters.length }, (_, i) => i + 1));
  } finally {
    execFileSync('umount', [mount]);
  }
});
