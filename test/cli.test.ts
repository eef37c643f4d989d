// The command line: flags, modes, exit codes and one-line errors.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { corpusDir, espcapBin, tempDir, testPcaps } from './support/paths';
import { espcap, espcapAsync, parseNdjson, tshark } from './support/programs';
import { wiresharkVersion } from '../src/engine/engine';

const httpPcap = path.join(testPcaps, 'test_http.pcap');
const dnsPcap = path.join(testPcaps, 'test_dns.pcap');

function oneLineError(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line:\n${stderr}`);
  assert.match(lines[0], pattern);
}

const usageErrors: [string, string[], RegExp][] = [
  ['no input mode', [], /^espcap: no input given/],
  ['two input modes', ['--file', httpPcap, '--dir', testPcaps], /^espcap: give only one of/],
  ['an unknown flag', ['--file', httpPcap, '--bogus'], /^espcap: unknown option '--bogus' \(see --help\)$/],
  ['a flag without its value', ['--file'], /^espcap: .*--file/],
  ['a negative count', ['--file', httpPcap, '--count', '-5'], /^espcap: .*count/],
  ['a zero count', ['--file', httpPcap, '--count', '0'], /^espcap: --count must be at least 1/],
  ['a count that is not a number', ['--file', httpPcap, '--count', 'ten'], /^espcap: --count needs a whole number/],
  ['a huge chunk size', ['--file', httpPcap, '--chunk', '99999999999999999999'], /^espcap: --chunk must be between 1 and 100000, got 99999999999999999999$/],
  ['a chunk size past the limit', ['--file', httpPcap, '--node', 'localhost:9200', '--chunk', '100001'], /^espcap: --chunk must be between 1 and 100000, got 100001$/],
  ['a negative chunk size', ['--file', httpPcap, '--chunk=-1'], /^espcap: --chunk needs a whole number, got "-1"$/],
  ['a negative count given with =', ['--file', httpPcap, '--count=-1'], /^espcap: --count needs a whole number, got "-1"$/],
  ['a count past any capture', ['--file', httpPcap, '--count', '99999999999999999999'], /^espcap: --count is too large: 99999999999999999999$/],
  ['a fractional count', ['--file', httpPcap, '--count', '1.5'], /^espcap: --count needs a whole number, got "1.5"$/],
  ['bulk requests larger than Elasticsearch takes', ['--file', httpPcap, '--node', 'localhost:9200', '--bulk-mb', '101'], /^espcap: --bulk-mb must be between 1 and 100, got 101$/],
  ['zero workers', ['--file', httpPcap, '--output', '/dev/null', '--workers', '0'], /^espcap: --workers must be between 1 and 256, got 0$/],
  ['a snaplen past 262144', ['--nic', 'lo', '--snaplen', '300000'], /^espcap: --snaplen must be between 64 and 262144, got 300000$/],
  ['a memory limit too small to start', ['--file', httpPcap, '--worker-max-rss', '10'], /^espcap: --worker-max-rss must be between 64 and 1048576, got 10$/],
  ['an empty file name', ['--file', ''], /^espcap: --file needs a value/],
  ['an empty directory name', ['--dir', ''], /^espcap: --dir needs a value$/],
  ['an empty output name', ['--file', httpPcap, '--output', ''], /^espcap: --output needs a value$/],
  ['an empty node', ['--file', httpPcap, '--node', ' '], /^espcap: --node needs a value$/],
  ['an empty display filter', ['--file', httpPcap, '--filter', ''], /^espcap: --filter needs a value$/],
  ['an empty dead-letter name', ['--file', httpPcap, '--node', 'localhost:9200', '--dead-letter', ''], /^espcap: --dead-letter needs a value$/],
  ['a directory given to --file', ['--file', testPcaps], /^espcap: --file .*test_pcaps is a directory: use --dir to read the captures in it$/],
  ['an invalid display filter', ['--file', httpPcap, '--filter', 'tcp.port ==== 80'], /^espcap: invalid display filter "tcp.port ==== 80": /],
  ['a display filter with control characters, shown escaped', ['--node', 'http://127.0.0.1:1', '--query', '\ttcp.stream \r\n== 1 and'], /^espcap: --query: invalid display filter "\\ttcp\.stream \\r\\n== 1 and": /],
  ['an index prefix longer than an index name allows', ['--file', httpPcap, '--node', 'localhost:9200', '--index-prefix', 'p'.repeat(245)], /^espcap: --index-prefix may have at most 244 characters \(index names are at most 255 bytes\), got 245$/],
  ['a capture filter for a file', ['--file', httpPcap, '--bpf', 'port 80'], /^espcap: --bpf filters live capture \(--nic\); .*--filter$/],
  ['--output and --node together', ['--file', httpPcap, '--output', '-', '--node', 'localhost:9200'], /^espcap: give either --output or --node, not both$/],
  ['a malformed --node', ['--file', httpPcap, '--node', 'http://[bad'], /^espcap: --node: "http:\/\/\[bad" is not a host:port or URL$/],
  ['a bad --refresh-interval', ['--file', httpPcap, '--node', 'localhost:9200', '--refresh-interval', 'soon'], /^espcap: --refresh-interval needs a time/],
  ['--lease without --node', ['--file', httpPcap, '--lease', '30'], /^espcap: --lease applies to indexing \(--node\) only$/],
  ['a lease too short to renew', ['--file', httpPcap, '--node', 'localhost:9200', '--lease', '1'], /^espcap: --lease must be between 2 and 3600, got 1$/],
  ['--username without a password', ['--file', httpPcap, '--node', 'localhost:9200', '--username', 'elastic'], /^espcap: --username needs a password/],
];
for (const [what, args, pattern] of usageErrors) {
  test(`usage error, exit code 2: ${what}`, () => {
    const run = espcap(args);
    assert.equal(run.status, 2);
    oneLineError(run.stderr, pattern);
    assert.equal(run.stdout, '');
  });
}

const runtimeErrors: [string, () => string[], RegExp][] = [
  ['a missing file', () => ['--file', '/nonexistent/x.pcap'], /^espcap: \/nonexistent\/x.pcap: no such file or directory$/],
  ['a missing directory', () => ['--dir', '/nonexistent-dir'], /^espcap: cannot read directory \/nonexistent-dir: no such directory$/],
  ['a file given to --dir', () => ['--dir', httpPcap], /is not a directory$/],
  [
    'a directory without captures',
    () => {
      const dir = tempDir('nocaptures');
      return ['--dir', dir];
    },
    /^espcap: no capture files found/,
  ],
];
for (const [what, args, pattern] of runtimeErrors) {
  test(`runtime error, exit code 1: ${what}`, () => {
    const run = espcap([...args(), '--output', '-', '--quiet']);
    assert.equal(run.status, 1, run.stderr);
    oneLineError(run.stderr, pattern);
  });
}

test('a display filter libwireshark 4.0 crashes on while compiling it: one line, exit 2, espcap survives (4.4 and 4.6 take it)', () => {
  const crashing = "tcp.dstport <= 'P' < tcp.srcport"; // a double free in 4.0, in tshark -Y too
  const crashes = wiresharkVersion().startsWith('4.0.');
  for (const args of [
    ['--file', httpPcap, '--filter', crashing, '--output', '-', '--quiet'],
    ['--node', 'http://127.0.0.1:1', '--query', crashing],
  ]) {
    const run = espcap(args);
    assert.notEqual(run.status, null, 'espcap itself was not killed');
    if (!crashes) continue;
    assert.equal(run.status, 2, run.stderr);
    oneLineError(run.stderr, /^espcap: (--query: )?invalid display filter "tcp\.dstport <= 'P' < tcp\.srcport": libwireshark crashed compiling it \(SIGABRT\)$/);
    assert.equal(run.stdout, '');
  }
});

test('paths with spaces and non-ASCII letters work for --file, --dir and --output, and name the file in the documents', () => {
  const dir = path.join(tempDir('unicode'), 'captures of the day ü 日本');
  fs.mkdirSync(path.join(dir, 'sub dir ✓'), { recursive: true });
  const capture = path.join(dir, 'sub dir ✓', 'dns — résolveur.pcap');
  fs.copyFileSync(dnsPcap, capture);
  const output = path.join(dir, '..', 'out put ñ.ndjson');
  for (const input of [['--file', capture], ['--dir', dir]]) {
    const run = espcap([...input, '--output', output, '--quiet']);
    assert.equal(run.status, 0, run.stderr);
    const docs = parseNdjson(fs.readFileSync(output, 'utf8'));
    assert.equal(docs.length, 108);
    assert.ok(docs.every((d) => d.file_name === capture), docs[0].file_name);
  }
  const missing = espcap(['--file', path.join(dir, 'nö such.pcap'), '--quiet']);
  assert.equal(missing.status, 1);
  oneLineError(missing.stderr, /^espcap: .*captures of the day ü 日本\/nö such\.pcap: no such file or directory$/);
});

test('--output on a full disk: a one-line error, exit code 1, only whole documents in the file', { skip: process.getuid?.() !== 0 && 'mounting a small file system needs root' }, () => {
  const mount = tempDir('full-output');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'espcap-test', mount]); // room for part of test_http.pcap's documents
  try {
    const output = path.join(mount, 'out.ndjson');
    const run = espcap(['--file', httpPcap, '--output', output, '--quiet']);
    assert.equal(run.status, 1);
    oneLineError(run.stderr, /^espcap: cannot write .*out\.ndjson: no space left on device$/);
    const text = fs.readFileSync(output, 'utf8');
    assert.ok(text.endsWith('\n'), 'no torn line at the end');
    const docs = parseNdjson(text);
    assert.ok(docs.length > 0 && docs.length < 1268, `${docs.length} documents`);
    assert.deepEqual(docs.map((d) => d.frame_number), Array.from({ length: docs.length }, (_, i) => i + 1));
  } finally {
    execFileSync('umount', [mount]);
  }
});

test('an unreadable file is a one-line permission error', () => {
  const dir = tempDir('unreadable');
  const file = path.join(dir, 'secret.pcap');
  fs.copyFileSync(dnsPcap, file);
  fs.chmodSync(file, 0o600);
  fs.chmodSync(dir, 0o755);
  // root reads everything: run espcap as an unprivileged user then.
  const asRoot = os.userInfo().uid === 0;
  if (!asRoot) fs.chmodSync(file, 0o000);
  const command = asRoot ? ['runuser', '-u', 'nobody', '--', process.execPath] : [process.execPath];
  let stderr = '';
  let status = 0;
  try {
    execFileSync(command[0], [...command.slice(1), path.join(__dirname, '..', '..', 'bin', 'espcap.js'), '--file', file, '--quiet'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    });
  } catch (err) {
    stderr = (err as { stderr: string }).stderr;
    status = (err as { status: number }).status;
  }
  assert.equal(status, 1);
  oneLineError(stderr, /secret.pcap: permission denied$/);
});

test('--file=x and --file x are the same; several --file in order', () => {
  const a = espcap([`--file=${dnsPcap}`, '--output=-', '--quiet']);
  const b = espcap(['--file', dnsPcap, '--output', '-', '--quiet']);
  assert.equal(a.status, 0);
  assert.equal(a.stdout, b.stdout);
  const both = parseNdjson(espcap(['--file', dnsPcap, '--file', httpPcap, '--output', '-', '--quiet']).stdout);
  assert.equal(both.length, 108 + 1268);
  assert.equal(both[0].file_name, dnsPcap);
  assert.equal(both.at(-1)!.file_name, httpPcap);
});

test('--count stops after N packets, across files', () => {
  const docs = parseNdjson(espcap(['--file', dnsPcap, '--file', httpPcap, '--count', '150', '--output', '-', '--quiet']).stdout);
  assert.equal(docs.length, 150);
  assert.equal(docs.filter((d) => d.file_name === dnsPcap).length, 108);
  assert.deepEqual(docs.slice(108).map((d) => d.frame_number), Array.from({ length: 42 }, (_, i) => i + 1));
});

test('--filter keeps exactly the packets tshark -Y keeps', async () => {
  const filter = 'http.request || dns.flags.response == 1';
  const docs = parseNdjson(espcap(['--file', httpPcap, '--file', dnsPcap, '--filter', filter, '--output', '-', '--quiet']).stdout);
  for (const file of [httpPcap, dnsPcap]) {
    const theirs = (await tshark(['-r', file, '-Y', filter, '-T', 'fields', '-e', 'frame.number'])).trim().split('\n').map(Number);
    assert.deepEqual(docs.filter((d) => d.file_name === file).map((d) => d.frame_number), theirs);
  }
});

test('dump mode prints each packet for a person: number, time, protocol, layers', () => {
  const run = espcap(['--file', dnsPcap, '--count', '2']);
  assert.equal(run.status, 0);
  const blocks = run.stdout.trim().split('\n\n');
  assert.equal(blocks.length, 2);
  assert.match(blocks[0], /^packet 1  2015-08-14T21:20:38\.915946000Z  dns  79 bytes  test_dns.pcap\n  frame\n/);
  assert.match(blocks[0], /\n  dns\n(    .*\n)*    qry_name: clients6\.google\.com\n/);
  assert.match(run.stderr, /^espcap: 2 packets from 1 capture file .*stopped at --count 2\n$/);
});

test('--help prints the usage, grouped, with defaults from the flag definitions, and exits 0', () => {
  const run = espcap(['--help'], { env: { ...process.env, ESPCAP_API_KEY: 'a-secret-key-1234' } });
  assert.equal(run.status, 0);
  assert.equal(run.stderr, '');
  assert.match(run.stdout, /^Usage: espcap /);
  for (const flag of ['--file', '--dir', '--nic', '--node', '--bpf', '--count', '--chunk', '--list-interfaces', '--output', '--filter', '--max-bytes', '--version'])
    assert.ok(run.stdout.includes(flag), flag);
  const groups = [...run.stdout.matchAll(/^([A-Z][^\n]*):$/gm)].map((m) => m[1]);
  assert.deepEqual(groups, ['Input (exactly one)', 'Output (default: packets printed for a person to read)', 'Elasticsearch (--node)', 'Several processes or hosts on one archive (--node)', 'Finding packets again (--node)', 'Selection', 'Live capture (--nic)', 'Documents', 'Parallel ingest', 'Memory', 'General']);
  assert.match(run.stdout, /--chunk <N> +packets per bulk request \(default: 1000, at most 100000\)/);
  assert.match(run.stdout, /--session-packets <N>[^]*\(default: 100000\)/);
  // The variable is named, its value never shown.
  assert.match(run.stdout, /\(env: ESPCAP_API_KEY\)/);
  assert.ok(!run.stdout.includes('a-secret-key-1234'));
  // Flags for tests and benchmarks, and aliases, stay out of the help.
  for (const hidden of ['--dissect-only', '--list ', '--promisc ']) assert.ok(!run.stdout.includes(hidden), hidden);
  assert.equal(espcap(['-h']).stdout, espcap(['--help']).stdout);
});

test('--version names espcap and the libwireshark it links', () => {
  const { version } = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
  for (const flag of ['--version', '-V']) {
    const run = espcap([flag]);
    assert.equal(run.status, 0);
    assert.equal(run.stdout, `espcap ${version} (libwireshark ${execFileSync('pkg-config', ['--modversion', 'wireshark'], { encoding: 'utf8' }).trim()})\n`);
  }
});

test('ESPCAP_API_KEY is the default of --api-key: flags still conflict only with flags, and the key is shown nowhere', () => {
  // Checked where it counts: the flag parser's result, through a cluster that does not exist (nothing is sent).
  const env = { ...process.env, ESPCAP_API_KEY: 'from-the-environment' };
  const conflict = espcap(['--file', httpPcap, '--node', 'localhost:9', '--api-key', 'x', '--api-key-file', '/dev/null'], { env });
  assert.equal(conflict.status, 2);
  oneLineError(conflict.stderr, /^espcap: give either --api-key or --api-key-file, not both$/);
  // The variable alone conflicts with nothing: --username with it is not a usage error (the cluster is unreachable: exit 1).
  const withUser = espcap(['--file', httpPcap, '--node', 'localhost:9', '--username', 'elastic', '--quiet'], { env: { ...env, ESPCAP_PASSWORD: 'p' } });
  assert.equal(withUser.status, 1, withUser.stderr);
  oneLineError(withUser.stderr, /^espcap: Elasticsearch at http:\/\/localhost:9: cannot connect: /);
  assert.ok(!withUser.stderr.includes('from-the-environment'));
});

test('output to a file that cannot be created is a one-line error', () => {
  const run = espcap(['--file', dnsPcap, '--output', '/nonexistent-dir/out.ndjson']);
  assert.equal(run.status, 1);
  oneLineError(run.stderr, /^espcap: cannot open output \/nonexistent-dir\/out.ndjson: /);
});

test('a closed output pipe (espcap ... | head) ends espcap quietly with exit code 0', () => {
  const bin = path.join(__dirname, '..', '..', 'bin', 'espcap.js');
  const errFile = path.join(tempDir('pipe'), 'stderr');
  const out = execFileSync('bash', ['-c', `node ${bin} --file ${httpPcap} --output - --quiet 2>${errFile} | head -c 100; echo; echo "status=\${PIPESTATUS[0]}"`], {
    encoding: 'utf8',
  });
  assert.match(out, /^\{"@timestamp":/);
  assert.match(out, /\nstatus=0\n$/);
  assert.equal(fs.readFileSync(errFile, 'utf8'), '');
});

/** espcap on the 82,582-packet corpus capture to an NDJSON file, in the background; resolves once documents are being written. */
async function busyRun(out: string) {
  const big = path.join(corpusDir, 'echo-connections.pcap.gz');
  const run = espcapAsync(['--file', big, '--output', out, '--workers', '1']);
  const until = Date.now() + 60_000;
  while (!fs.existsSync(out) || fs.statSync(out).size < 1_000_000) {
    assert.ok(Date.now() < until, 'waited 60 s for espcap to write documents');
    await new Promise((r) => setTimeout(r, 50));
  }
  return run;
}

test('SIGTERM, like a first Ctrl-C, stops reading, writes every document dissected, prints the summary, exit code 0', async () => {
  const out = path.join(tempDir('term'), 'out.ndjson');
  const run = await busyRun(out);
  process.kill(run.pid, 'SIGTERM');
  const { status, stderr } = await run.done;
  assert.equal(status, 0, stderr);
  const written = Number(/(\d+) packets from 1 capture file/.exec(stderr)?.[1]);
  assert.match(stderr, /interrupted/);
  const text = fs.readFileSync(out, 'utf8');
  assert.ok(text.endsWith('\n'), 'the last document is whole');
  const docs = parseNdjson(text);
  assert.ok(docs.length > 0 && docs.length < 82582, `stopped part-way: ${docs.length}`);
  assert.equal(docs.length, written, stderr);
  assert.deepEqual(docs.map((d) => d.frame_number), docs.map((_, i) => i + 1), 'every packet up to the stop, once, in order');
});

test('a second Ctrl-C stops at once, without flushing: one line, exit code 130, no dissecting process left', async () => {
  // Documents to a pipe nobody reads any more: the first Ctrl-C's flush cannot finish.
  const big = path.join(corpusDir, 'echo-connections.pcap.gz');
  const child = spawn(process.execPath, [espcapBin, '--file', big, '--output', '-', '--workers', '1']);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  let read = 0;
  await new Promise<void>((resolve) =>
    child.stdout.on('data', (d: Buffer) => {
      read += d.length;
      if (read > 1_000_000) {
        child.stdout.pause();
        resolve();
      }
    }),
  );
  await new Promise((r) => setTimeout(r, 500));
  const children = fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  assert.ok(children.length > 0, 'a dissecting process runs');
  process.kill(child.pid!, 'SIGINT');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(child.exitCode, null, 'still flushing into the full pipe');
  const second = Date.now();
  process.kill(child.pid!, 'SIGINT');
  assert.equal(await exited, 130, stderr);
  assert.ok(Date.now() - second < 5000, `stopped ${Date.now() - second} ms after the second Ctrl-C`);
  assert.match(stderr, /^espcap: interrupted twice: stopped without flushing$/m);
  await new Promise((r) => setTimeout(r, 500));
  for (const pid of children) assert.ok(!fs.existsSync(`/proc/${pid}`) || /^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8')), `dissecting process ${pid} is gone`);
  child.stdout.destroy();
});
