// Several espcap processes on one archive and one cluster, as several hosts
// would run: the captures are shared through claims in Elasticsearch
// (src/elasticsearch/claims.ts). Against the real test cluster: each file is
// read by one process, counts are exact, a killed process's file is taken
// over when its claim expires, and wall clocks minutes apart change nothing.
import { ChildProcess, spawn } from 'node:child_process';
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { corpusDir, espcapBin, tempDir, testPcaps } from './support/paths';
import { countsPerIndex, es, esUrl, indexedSoFar, resetCluster, summary, tsharkCountsPerIndex } from './support/elasticsearch';
import { Run } from './support/programs';

/** An archive of 16 captures of mixed sizes; the largest (82,582 packets) is read first. */
function buildArchive(): { dir: string; files: string[] } {
  const dir = tempDir('shared');
  const names = [
    'echo-connections.pcap.gz',
    'modbusBig.pcap',
    'cwd-navigation.pcap',
    '1000-requests-one-dropped-response.pcap.gz',
    'ssh_kex_mlkem.pcap',
    'gre-aruba.pcap',
    'arp-oobr.pcap',
    'ssh.pcap',
    '206_example_b.pcap',
    'zeek_llc.pcap',
    'irc-dcc-send.pcapng',
    'smb2.pcap',
  ];
  const files = names.map((name) => path.join(dir, 'corpus', name));
  fs.mkdirSync(path.join(dir, 'corpus'));
  for (const name of names) fs.copyFileSync(path.join(corpusDir, name), path.join(dir, 'corpus', name));
  fs.mkdirSync(path.join(dir, 'shipped'));
  for (const name of ['test_http.pcap', 'test_dns.pcap', 'dns-binds.pcap', 'pcapng-multi-interface.pcapng']) {
    fs.copyFileSync(path.join(testPcaps, name), path.join(dir, 'shipped', name));
    files.push(path.join(dir, 'shipped', name));
  }
  return { dir, files };
}

const archive = buildArchive();
const bigFile = archive.files[0];
let expected: Map<string, number> | undefined;
async function expectedCounts(): Promise<{ perIndex: Map<string, number>; total: number }> {
  expected ??= await tsharkCountsPerIndex(archive.files);
  return { perIndex: expected, total: [...expected.values()].reduce((a, b) => a + b, 0) };
}

interface Host {
  id: string;
  child: ChildProcess;
  done: Promise<Run>;
}

/** The archive under another path, as another host's mount of the same share would show it. */
const otherMount = path.join(tempDir('mount'), 'archive');
fs.symlinkSync(archive.dir, otherMount);

/** espcap as one host of several: its own --host-id (or the default, host name:process id), one worker, a short lease. */
function startHost(id: string | undefined, extra: string[] = [], dir = archive.dir): Host {
  const args = [espcapBin, '--dir', dir, '--node', esUrl(), ...(id ? ['--host-id', id] : []), '--workers', '1', '--lease', '3'];
  args.push('--dead-letter', path.join(tempDir('dl'), 'dead.ndjson'), ...extra);
  const child = spawn(process.execPath, args, { detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<Run>((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
  return { id: id ?? `${os.hostname()}:${child.pid}`, child, done };
}

/** After a test: a host still running (the test failed) is killed with its process group. */
function cleanUp(hosts: Host[]): void {
  for (const h of hosts) {
    if (h.child.exitCode !== null || h.child.signalCode !== null) continue;
    try {
      process.kill(-h.child.pid!, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

/** Kills a host as a crash would: espcap and its dissecting processes (in process groups of their own). */
function killHost(host: Host): void {
  const pid = host.child.pid!;
  const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  process.kill(-pid, 'SIGKILL');
  for (const child of children) process.kill(-child, 'SIGKILL');
}

/** What a host's summary says of the sharing. */
function shared(stderr: string) {
  const m = /shared as (\S+): (\d+) files claimed here \((\d+) taken over\), (\d+) done by other processes/.exec(stderr);
  assert.ok(m, `no sharing summary in:\n${stderr}`);
  return { host: m[1], claimed: Number(m[2]), takenOver: Number(m[3]), doneElsewhere: Number(m[4]) };
}

/** The state document of every capture: who recorded it, and its status. */
async function stateDocuments(): Promise<{ path: string; status: string; host_id: string; packets: number }[]> {
  await es('POST', '/espcap-ingest-state/_refresh');
  const r = await es('POST', '/espcap-ingest-state/_search', { size: 1000, query: { match_all: {} } });
  return r.hits.hits.map((h: { _source: { path: string; status: string; host_id: string; packets: number } }) => h._source);
}

/** The state documents once two looks half a second apart agree. */
async function settledStateDocuments(): Promise<Awaited<ReturnType<typeof stateDocuments>>> {
  const look = async () => (await stateDocuments()).sort((x, y) => x.path.localeCompare(y.path));
  let before = JSON.stringify(await look());
  return waitFor('the state documents to settle', 30, async () => {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now = await look();
    const same = JSON.stringify(now) === before;
    before = JSON.stringify(now);
    return same ? now : undefined;
  });
}

async function waitFor<T>(what: string, seconds: number, probe: () => Promise<T | undefined>): Promise<T> {
  const until = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    assert.ok(Date.now() < until, `waited ${seconds} s for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

for (const hosts of [2, 3]) {
  test(`${hosts} espcap processes started together on one archive: each file read by one, counts exact, no duplicates`, { timeout: 600_000 }, async (t) => {
    await resetCluster();
    const { perIndex, total } = await expectedCounts();
    // The second host sees the archive under another path: captures are known by their content.
    const running = Array.from({ length: hosts }, (_, i) => startHost(`host-${i + 1}`, [], i === 1 ? otherMount : archive.dir));
    t.after(() => cleanUp(running));
    const runs = await Promise.all(running.map((h) => h.done));
    for (const run of runs) assert.equal(run.status, 0, run.stderr);
    const summaries = runs.map((r) => summary(r.stderr));
    const sharing = runs.map((r) => shared(r.stderr));
    // The summaries add up to the archive, and nothing was read twice.
    assert.equal(summaries.reduce((n, s) => n + s.indexed, 0), total);
    assert.equal(summaries.reduce((n, s) => n + s.read, 0), total);
    assert.equal(summaries.reduce((n, s) => n + s.duplicates, 0), 0);
    assert.equal(sharing.reduce((n, s) => n + s.claimed, 0), archive.files.length);
    assert.equal(sharing.reduce((n, s) => n + s.takenOver, 0), 0);
    for (const s of sharing) assert.equal(s.claimed + s.doneElsewhere, archive.files.length, JSON.stringify(s));
    // The state: one finished record per file, by one of the hosts, whose summary counts it.
    const state = await stateDocuments();
    assert.equal(state.length, archive.files.length);
    assert.ok(state.every((d) => d.status === 'done'), JSON.stringify(state));
    assert.equal(new Set(state.map((d) => path.basename(d.path))).size, archive.files.length, 'each capture once, whichever path it was read by');
    for (const s of sharing) assert.equal(state.filter((d) => d.host_id === s.host).length, s.claimed, s.host);
    assert.ok(sharing.filter((s) => s.claimed > 0).length >= 2, `the work was shared: ${JSON.stringify(sharing)}`);
    assert.deepEqual(new Map([...(await countsPerIndex())].sort()), new Map([...perIndex].sort()));
  });
}

test('a host killed in the middle of a file: another takes the file over when its claim expires, and the counts are exact', { timeout: 600_000 }, async (t) => {
  await resetCluster();
  const { perIndex, total } = await expectedCounts();
  // Wall clocks ten minutes apart, each way: a rule that compared times would
  // steal the live claims of the host ahead, or wait ten minutes for the dead one.
  const a = startHost('host-a', ['--test-clock-offset', String(10 * 60_000)]);
  const b = startHost('host-b', ['--test-clock-offset', String(-10 * 60_000)]);
  t.after(() => cleanUp([a, b]));
  // Whichever claims the big file is killed once some of its packets are in.
  const holder = await waitFor('a claim on the big file', 60, async () => {
    const claim = (await stateDocuments()).find((d) => d.path === bigFile && d.status === 'claimed');
    return claim?.host_id;
  });
  await waitFor('packets of the big file indexed', 120, async () => ((await indexedSoFar()) > 20_000 ? true : undefined));
  const [victim, survivor] = holder === 'host-a' ? [a, b] : [b, a];
  killHost(victim);
  const killedAt = Date.now();
  const run = await survivor.done;
  assert.equal(run.status, 0, run.stderr);
  const sharing = shared(run.stderr);
  assert.equal(sharing.takenOver, 1, run.stderr);
  assert.match(run.stderr, new RegExp(`took over ${bigFile.replace(/[.]/g, '\\.')}: the claim of ${victim.id} was not renewed for --lease 3 s`));
  assert.ok(Date.now() - killedAt < 120_000, 'the dead claim was taken over well before the clock difference would allow');
  // Every packet once: the survivor's second copies of what the victim indexed count as duplicates.
  assert.deepEqual(new Map([...(await countsPerIndex())].sort()), new Map([...perIndex].sort()));
  const s = summary(run.stderr);
  assert.ok(s.duplicates > 0, 'the file was read again from its start');
  assert.equal(s.read, s.indexed + s.duplicates);
  const state = await stateDocuments();
  assert.equal(state.length, archive.files.length);
  assert.ok(state.every((d) => d.status === 'done'), JSON.stringify(state.filter((d) => d.status !== 'done')));
  assert.equal(state.find((d) => d.path === bigFile)!.host_id, survivor.id);
  assert.equal(await es('POST', '/packets-*/_count').then((r) => r.count), total);
});

for (const [what, id] of [
  ['the same --host-id', 'host-c'],
  ['the default id (host name:process id) of a process that is gone', undefined],
] as const) {
  test(`a run killed and started again on this host goes on at once, without waiting for its own claims to expire: ${what}`, { timeout: 600_000 }, async (t) => {
    await resetCluster();
    const { perIndex } = await expectedCounts();
    // A ten-minute lease: waiting for the dead run's claims would be seen.
    const first = startHost(id, ['--lease', '600']);
    t.after(() => cleanUp([first]));
    await waitFor('packets indexed', 120, async () => ((await indexedSoFar()) > 10_000 ? true : undefined));
    killHost(first);
    await first.done;
    // A request the killed run had already sent (a claim, or a file marked done)
    // is still applied by Elasticsearch after the process is gone: look once it has landed.
    const left = (await settledStateDocuments()).filter((d) => d.status === 'claimed');
    assert.ok(left.length > 0 && left.every((d) => d.host_id === first.id), 'the killed run left its claims');
    const started = Date.now();
    const again = startHost(id, ['--lease', '600']);
    const run = await again.done;
    assert.equal(run.status, 0, run.stderr);
    assert.ok(Date.now() - started < 120_000, `${(Date.now() - started) / 1000} s`);
    // (A claim the killed run had sent may have been made after the look above.)
    const takeovers = [...run.stderr.matchAll(/took over (\S+): the claim of (\S+) was not renewed/g)];
    assert.equal(shared(run.stderr).takenOver, takeovers.length);
    assert.ok(takeovers.length >= left.length, run.stderr);
    assert.ok(takeovers.every((m) => m[2] === first.id), run.stderr);
    for (const claim of left) assert.ok(takeovers.some((m) => m[1] === claim.path), claim.path);
    assert.deepEqual(new Map([...(await countsPerIndex())].sort()), new Map([...perIndex].sort()));
  });
}

test('a run stopped with Ctrl-C releases the claims of the files it had not finished', { timeout: 600_000 }, async (t) => {
  await resetCluster();
  const host = startHost('host-d', ['--lease', '600']);
  t.after(() => cleanUp([host]));
  await waitFor('a claim', 60, async () => ((await stateDocuments()).some((d) => d.status === 'claimed') ? true : undefined));
  await waitFor('packets indexed', 120, async () => ((await indexedSoFar()) > 10_000 ? true : undefined));
  process.kill(host.child.pid!, 'SIGINT');
  const run = await host.done;
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, /interrupted/);
  const state = await stateDocuments();
  assert.ok(state.every((d) => d.status === 'done'), JSON.stringify(state.filter((d) => d.status !== 'done')));
  assert.ok(state.length < archive.files.length, 'stopped before the end');
});
