// Live capture on real interfaces: a veth pair between two private network
// namespaces (nothing leaves them), captures replayed into one end with
// tcpreplay, espcap capturing on the other. What arrives is compared with
// what tshark reads from the replayed file.
import { execFileSync } from 'node:child_process';
import { after, before, test, TestContext } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { corpusDir, espcapBin, tempDir, testPcaps } from './support/paths';
import { Doc, espcap, parseNdjson, tsharkFields } from './support/programs';
import { es as esCall, esUrl, resetCluster } from './support/elasticsearch';
import * as net_ from 'node:net';
import { canMakeNetworks, VethPair } from './support/network';
import { Capture, exitWithin, startCapture as startOn, stopWithCtrlC } from './support/live-capture';

const httpPcap = path.join(testPcaps, 'test_http.pcap'); // 1268 packets
const dnsPcap = path.join(testPcaps, 'test_dns.pcap'); // 108 packets
const cannot = canMakeNetworks();
let net: VethPair;

before(() => {
  if (!cannot) net = new VethPair('t');
});
after(() => net?.remove());

/**
 * espcap on the veth pair with one dissecting process (the default on two
 * cores, not on more): these tests check capture order; live-workers.test.ts
 * covers several.
 */
const startCapture = (t: TestContext, args: string[]) => startOn(net, t, ['--workers', '1', ...args]);

/** What tshark reads from a capture, per packet: the fields compared with the live documents. */
async function expectedRows(file: string): Promise<string[]> {
  const rows = await tsharkFields(file, ['frame.len', 'ip.src', 'ip.dst', 'tcp.srcport', 'tcp.dstport', 'udp.srcport', 'dns.id']);
  return rows.map((r) => JSON.stringify(r.map((values) => values[0] ?? null)));
}

function documentRow(d: Doc): string {
  const l = d.layers;
  const first = (v: unknown) => (v === undefined ? null : String(Array.isArray(v) ? v[0] : v));
  const hex = (v: unknown) => (v === undefined ? null : `0x${Number(Array.isArray(v) ? v[0] : v).toString(16).padStart(4, '0')}`);
  return JSON.stringify([String(d.length), first(l.ip?.src), first(l.ip?.dst), first(l.tcp?.srcport), first(l.tcp?.dstport), first(l.udp?.srcport), hex(l.dns?.id)]);
}

test('packets replayed over veth arrive complete, in order, with the fields tshark reads from the file', { skip: cannot }, async (t) => {
  const out = path.join(tempDir('live'), 'http.ndjson');
  const capture = await startCapture(t, ['--output', out, '--count', '1268']);
  net.replay(httpPcap, 2000);
  assert.equal(await exitWithin(capture, 60, 'stop at --count 1268'), 0, capture.stderr());
  const docs = parseNdjson(fs.readFileSync(out, 'utf8'));
  assert.equal(docs.length, 1268);
  assert.deepEqual(docs.map(documentRow), await expectedRows(httpPcap));
  assert.deepEqual(docs.map((d) => d.frame_number), docs.map((_, i) => i + 1));
  assert.ok(docs.every((d) => d.capture === 'live' && d.interface_name === net.nic && d.file_name === undefined && d.capture_id === docs[0].capture_id));
  assert.match(capture.stderr(), /1268 packets captured on espcap0 .* 1268 dissected; dropped: 0 by the kernel, 0 by the interface, 0 by espcap, stopped at --count 1268/);
});

test('--bpf keeps exactly the matching packets: DNS over UDP out of HTTP and DNS traffic', { skip: cannot }, async (t) => {
  const out = path.join(tempDir('live'), 'dns.ndjson');
  const capture = await startCapture(t, ['--output', out, '--bpf', 'udp port 53']);
  net.replay(httpPcap, 4000);
  net.replay(dnsPcap, 2000);
  await new Promise((r) => setTimeout(r, 1000));
  await stopWithCtrlC(capture);
  const docs = parseNdjson(fs.readFileSync(out, 'utf8'));
  const dnsRows = (await tsharkFields(dnsPcap, ['udp.port'], ['-Y', 'udp.port == 53'])).length;
  assert.ok(dnsRows > 0);
  assert.equal(docs.length, dnsRows, 'every DNS packet, and nothing else');
  assert.ok(docs.every((d) => d.layers.udp && !d.layers.tcp));
  assert.match(capture.stderr(), /, interrupted/);
});

test('dissection runs unprivileged: after opening the interface espcap and its dissecting process run as nobody', { skip: cannot }, async (t) => {
  const capture = await startCapture(t, ['--output', path.join(tempDir('live'), 'x.ndjson')]);
  // `ip netns exec` runs node: espcap is its child (or itself, where ip execs).
  const espcapPid = Number(execFileSync('pgrep', ['-f', `${espcapBin} --nic ${net.nic}`], { encoding: 'utf8' }).trim().split('\n')[0]);
  const uid = (pid: number) => /^Uid:\s+(\d+)\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))!.slice(1, 3).map(Number);
  const workers = fs.readFileSync(`/proc/${espcapPid}/task/${espcapPid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  assert.ok(workers.length >= 1);
  const nobody = Number(fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('nobody:'))!.split(':')[2]);
  assert.deepEqual(uid(espcapPid), [nobody, nobody]);
  for (const worker of workers) assert.deepEqual(uid(worker), [nobody, nobody]);
  await stopWithCtrlC(capture);
  assert.match(capture.stderr(), /dissecting as nobody/);
});

test('a dissecting process past its memory limit is replaced while capture goes on: no packet lost or repeated', { skip: cannot }, async (t) => {
  // tcpreplay reads plain pcap only.
  const capture82k = path.join(tempDir('live'), 'echo-connections.pcap'); // 82,582 packets
  execFileSync('sh', ['-c', `gzip -dc '${path.join(corpusDir, 'echo-connections.pcap.gz')}' > '${capture82k}'`]);
  const out = path.join(tempDir('live'), 'echo.ndjson');
  // 150 MB is below a dissecting process's size after start-up: each is replaced after 10,000 packets.
  const capture = await startCapture(t, ['--output', out, '--count', '82582', '--worker-max-rss', '150']);
  net.replay(capture82k, 20000);
  assert.equal(await exitWithin(capture, 120, 'stop at --count 82582'), 0, capture.stderr());
  const replaced = Number(/dissecting process replaced (\d+) time/.exec(capture.stderr())?.[1] ?? 0);
  assert.ok(replaced >= 3, capture.stderr());
  const frames: number[] = [];
  for (const line of fs.readFileSync(out, 'utf8').split('\n')) if (line) frames.push(JSON.parse(line).frame_number);
  assert.equal(frames.length, 82582);
  assert.deepEqual(frames, frames.map((_, i) => i + 1), 'every frame number once, in order, across the processes');
  assert.match(capture.stderr(), /0 by espcap/);
});

test('live packets indexed into Elasticsearch as they come: one document per packet', { skip: cannot }, async (t) => {
  await resetCluster();
  // The cluster listens on the host's loopback, which the capture namespace has
  // not: a relay through a Unix socket (namespaces share the file system) gives
  // it the same address there, still loopback only.
  const socket = path.join(tempDir('relay'), 'es.sock');
  const es = new URL(esUrl());
  const hostSide = net_.createServer((c) => c.pipe(net_.connect(Number(es.port), es.hostname)).pipe(c)).listen(socket);
  const namespaceSide = net.spawnInCapture(process.execPath, [
    '-e',
    `require('net').createServer((c) => c.pipe(require('net').connect(${JSON.stringify(socket)})).pipe(c)).listen(${es.port}, '127.0.0.1', () => console.log('ready'))`,
  ]);
  t.after(() => {
    namespaceSide.kill();
    hostSide.close();
  });
  await new Promise((resolve) => namespaceSide.stdout!.once('data', resolve));
  const capture = await startCapture(t, ['--node', esUrl(), '--dead-letter', path.join(tempDir('live'), 'dl.ndjson')]);
  net.replay(dnsPcap, 2000);
  // A quiet link never fills a bulk request: the documents must arrive anyway, while espcap runs.
  const live = async () => {
    try {
      await esCall('POST', '/packets-*/_refresh');
      return (await esCall('POST', '/packets-*/_count', { query: { term: { capture: 'live' } } })).count ?? 0;
    } catch {
      return 0; // the day's index is being created: its shard is not there yet
    }
  };
  const deadline = Date.now() + 10000;
  while ((await live()) < 108 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  assert.equal(await live(), 108, 'every packet indexed within seconds, before espcap stops');
  await stopWithCtrlC(capture);
  assert.match(capture.stderr(), /108 packets read, 108 indexed/);
  assert.equal(await live(), 108);
  // Found again, but a live capture left no file to read the packets back from: said, with the count, exit 1.
  const out = path.join(tempDir('live'), 'found.pcapng');
  const found = espcap(['--node', esUrl(), '--query', 'dns', '--write', out]);
  assert.equal(found.status, 1, found.stderr);
  assert.equal(found.stderr, `espcap: live capture on ${net.nic}: no capture file to read the packets from: 108 packets not written\nespcap: 108 packets found in packets-*; 0 written to ${out}\n`);
});

test('loopback capture works (--nic lo)', { skip: cannot }, async (t) => {
  // A namespace of its own: its loopback carries nothing but the replay.
  const own = new VethPair('lo');
  t.after(() => own.remove());
  const out = path.join(tempDir('live'), 'lo.ndjson');
  const child = own.spawnInCapture(process.execPath, [espcapBin, '--nic', 'lo', '--workers', '1', '--output', out, '--count', '108'], { detached: true });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  while (!/capturing on/.test(stderr)) await new Promise((r) => setTimeout(r, 50));
  execFileSync('ip', ['netns', 'exec', own.capture, 'tcpreplay', '-q', '--pps=2000', '-i', 'lo', dnsPcap], { stdio: 'ignore' });
  assert.equal(await exited, 0, stderr);
  const docs = parseNdjson(fs.readFileSync(out, 'utf8'));
  assert.deepEqual(docs.map(documentRow), await expectedRows(dnsPcap));
});

test('SIGTERM stops capturing: every packet captured is written, the summary printed, exit code 0', { skip: cannot }, async (t) => {
  const out = path.join(tempDir('live'), 'term.ndjson');
  const capture = await startCapture(t, ['--output', out]);
  net.replay(dnsPcap, 2000);
  await new Promise((r) => setTimeout(r, 1000));
  process.kill(capture.child.pid!, 'SIGTERM');
  assert.equal(await exitWithin(capture, 30, 'stop after SIGTERM'), 0, capture.stderr());
  assert.match(capture.stderr(), /108 packets captured on espcap0 in [\d.]+ s, 108 dissected; dropped: 0 by the kernel, 0 by the interface, 0 by espcap, interrupted/);
  assert.deepEqual(parseNdjson(fs.readFileSync(out, 'utf8')).map(documentRow), await expectedRows(dnsPcap));
});

test('drops caused for real (the capturing process stopped while a burst fills its 1 MiB kernel buffer): counted, shown in the summary and in --stats-interval; every packet captured is written', { skip: cannot }, async (t) => {
  const out = path.join(tempDir('live'), 'drops.ndjson');
  const capture = await startCapture(t, ['--output', out, '--buffer-size', '1', '--stats-interval', '1']);
  const loops = 8; // 8 x 1268 packets, about 6 MB
  process.kill(capture.child.pid!, 'SIGSTOP');
  try {
    execFileSync('ip', ['netns', 'exec', net.sender, 'tcpreplay', '-q', '--topspeed', `--loop=${loops}`, '-i', net.peer, httpPcap], { stdio: 'ignore' });
  } finally {
    process.kill(capture.child.pid!, 'SIGCONT');
  }
  // Let it write what it holds and print a statistics line, then stop it.
  await new Promise((r) => setTimeout(r, 3000));
  process.kill(capture.child.pid!, 'SIGINT');
  assert.equal(await exitWithin(capture, 60, 'stop after Ctrl-C'), 0, capture.stderr());
  const m = /(\d+) packets captured on espcap0 in [\d.]+ s, (\d+) dissected; dropped: (\d+) by the kernel, (\d+) by the interface, (\d+) by espcap/.exec(capture.stderr());
  assert.ok(m, capture.stderr());
  const [captured, dissected, kernelDrops, , espcapDrops] = m.slice(1).map(Number);
  assert.ok(kernelDrops > 0, `the kernel dropped packets: ${m[0]}`);
  assert.equal(espcapDrops, 0);
  assert.equal(captured + kernelDrops, 1268 * loops, 'every packet sent was captured or counted as dropped');
  assert.equal(dissected, captured);
  assert.equal(parseNdjson(fs.readFileSync(out, 'utf8')).length, captured);
  // --stats-interval: a JSON line a second while it ran, and the last one as the summary says.
  const stats = capture.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  assert.ok(stats.length >= 2, capture.stderr());
  const last = stats[stats.length - 1];
  assert.deepEqual([last.captured, last.dissected, last.kernel_drops, last.espcap_drops], [captured, dissected, kernelDrops, 0]);
});

test('--user takes a numeric uid without a passwd entry: the output and the dissecting process are that uid\'s', { skip: cannot }, async (t) => {
  const out = path.join(tempDir('live-uid'), 'x.ndjson');
  const capture = await startCapture(t, ['--user', '54321', '--output', out]);
  const espcapPid = Number(execFileSync('pgrep', ['-f', `${espcapBin} --nic ${net.nic}`], { encoding: 'utf8' }).trim().split('\n')[0]);
  assert.match(fs.readFileSync(`/proc/${espcapPid}/status`, 'utf8'), /^Uid:\s+54321\s+54321/m);
  assert.equal(fs.statSync(out).uid, 54321);
  assert.equal(fs.statSync(out).gid, 54321);
  await stopWithCtrlC(capture);
  assert.match(capture.stderr(), /dissecting as 54321/);
});

test('--user that the user database does not know: one line, exit 2', () => {
  const run = espcap(['--nic', 'lo', '--user', 'espcap-no-such-user', '--count', '1']);
  assert.equal(run.status, 2);
  assert.equal(run.stderr, 'espcap: --user espcap-no-such-user: no such user\n');
});

test('--user root is refused: packets are never dissected as root', () => {
  const run = espcap(['--nic', 'lo', '--user', 'root', '--count', '1']);
  assert.equal(run.status, 2);
  assert.match(run.stderr, /^espcap: --user root is root: packets are never dissected as root; name an unprivileged user\n$/);
});

test('wrong interface, invalid BPF, no permission: one line each, exit codes 1, 2, 1', { skip: cannot }, () => {
  const missing = espcap(['--nic', 'espcap-nosuch']);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^espcap: no interface espcap-nosuch to capture on \(see --list-interfaces\)\n$/);
  const badBpf = espcap(['--nic', 'lo', '--bpf', 'tcp portt 80']);
  assert.equal(badBpf.status, 2);
  assert.match(badBpf.stderr, /^espcap: invalid --bpf expression "tcp portt 80": .*\n$/);
  const unprivileged = execFileSync('sh', ['-c', `setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all ${process.execPath} ${espcapBin} --nic lo 2>&1; echo "exit=$?"`], { encoding: 'utf8' });
  assert.match(unprivileged, /^espcap: no permission to capture on lo: run espcap as root, or give it CAP_NET_RAW and CAP_NET_ADMIN\nexit=1\n$/);
});

test('--list-interfaces into a reader that stops at once (| true): nothing on stderr, exit 0', () => {
  const errors = path.join(tempDir('list-interfaces'), 'stderr');
  for (let i = 0; i < 5; i++) {
    const status = execFileSync('bash', ['-c', `"${process.execPath}" "${espcapBin}" --list-interfaces 2>"${errors}" | true; echo "\${PIPESTATUS[0]}"`], { encoding: 'utf8' });
    assert.equal(status, '0\n');
    assert.equal(fs.readFileSync(errors, 'utf8'), '');
  }
});

test('--list-interfaces lists the interfaces with their state and addresses', { skip: cannot }, () => {
  const listed = execFileSync('ip', ['netns', 'exec', net.capture, process.execPath, espcapBin, '--list-interfaces'], { encoding: 'utf8' });
  assert.match(listed, new RegExp(`^${net.nic}\\t\\(up, running\\)`, 'm'));
  assert.match(listed, /^lo\t\(up, running, loopback\)\t127\.0\.0\.1/m);
});
