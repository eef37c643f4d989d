// The addon as Node loads it — addon.cc, live_binding.cc, live_capture.cc and
// frame_reader.cc with the engine — under AddressSanitizer and
// UndefinedBehaviorSanitizer (the sanitizer tools of hostile-input.test.ts
// run the engine without Node). cmake-js builds it into build/sanitize-addon
// (ESPCAP_SANITIZE=ON); espcap loads it through ESPCAP_ADDON, with the ASan
// runtime preloaded into espcap's own processes only (preloaded into every
// program, some hang: pgrep). A sanitizer report ends the process with exit
// code 23. Each run is compared with the same run on the normal build.
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { corpusDir, espcapBin, repoRoot, tempDir, testPcaps } from './support/paths';
import { espcap, parseNdjson } from './support/programs';
import { esUrl, resetCluster } from './support/elasticsearch';
import { canMakeNetworks, VethPair } from './support/network';

const sanitizedAddon = path.join(repoRoot, 'build', 'sanitize-addon', 'Release', 'espcap.node');
const sanitized: NodeJS.ProcessEnv = {
  ...process.env,
  ESPCAP_ADDON: sanitizedAddon,
  LD_PRELOAD: execFileSync('gcc', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).trim(),
  // Node itself is not built for LeakSanitizer: its own allocations would be reported.
  ASAN_OPTIONS: 'detect_leaks=0:halt_on_error=1:exitcode=23',
  UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
};
const REPORT = /AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer/;

function assertClean(run: { status: number | null; stderr: string }, what: string): void {
  assert.doesNotMatch(run.stderr, REPORT, `${what}: a sanitizer report`);
  assert.notEqual(run.status, 23, `${what}: exit code 23 (sanitizer)\n${run.stderr}`);
}

/**
 * The summary line's rate and time vary from run to run, and the sanitizer
 * build's processes are larger, so more are replaced to bound memory (the
 * documents show the replacements lose nothing); the rest must not differ.
 */
const withoutTimes = (stderr: string) => stderr.replace(/ in \d+\.\d s \(.*?\)/g, '').replace(/, dissecting processes restarted \d+ times? to bound memory/, '');

before(() => {
  const built = spawnSync(process.execPath, [require.resolve('cmake-js/bin/cmake-js'), 'compile', '--out', 'build/sanitize-addon', '--CDESPCAP_SANITIZE=ON'], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(built.status, 0, built.stdout + built.stderr);
  assert.ok(fs.existsSync(sanitizedAddon));
  // Really the sanitizer build: it links the ASan runtime.
  assert.match(execFileSync('ldd', [sanitizedAddon], { encoding: 'utf8' }), /libasan/);
});

test('sanitizer build: every function of the addon, refused calls too, gives what the normal build gives', () => {
  const program = path.join(__dirname, 'support', 'addon-calls.js');
  for (const capture of [path.join(testPcaps, 'pcapng-multi-interface.pcapng'), path.join(testPcaps, 'derived_gzip_compressed.pcap.gz')]) {
    const normal = spawnSync(process.execPath, [program, capture], { encoding: 'utf8', maxBuffer: 1 << 28 });
    assert.equal(normal.status, 0, normal.stderr);
    const checked = spawnSync(process.execPath, [program, capture], { encoding: 'utf8', maxBuffer: 1 << 28, env: sanitized });
    assertClean(checked, capture);
    assert.equal(checked.status, 0, checked.stderr);
    assert.deepEqual(JSON.parse(checked.stdout), JSON.parse(normal.stdout));
  }
});

test('sanitizer build: files, damaged ones too, through the dissecting processes give the documents of the normal build', () => {
  const files = [
    ...fs.readdirSync(testPcaps).map((f) => path.join(testPcaps, f)),
    ...['wikipedia.pcap', 'sctp-www.pcap', 'smb2.pcap', 'Network_Join_Nokia_Mobile.pcap', 'linux_dlt_sll2.pcap', 'gap-data-missing.pcapng'].map((f) => path.join(corpusDir, f)),
    ...fs.readdirSync(corpusDir).filter((f) => f.startsWith('bad_')).sort().slice(0, 6).map((f) => path.join(corpusDir, f)),
  ];
  const args = [...files.flatMap((f) => ['--file', f]), '--workers', '1', '--output', '-', '--session-packets', '500'];
  const normal = espcap(args);
  const checked = espcap(args, { env: sanitized });
  assertClean(checked, 'files');
  assert.equal(checked.status, normal.status, checked.stderr);
  assert.ok(normal.stdout.length > 1_000_000);
  assert.equal(checked.stdout, normal.stdout);
  assert.equal(withoutTimes(checked.stderr), withoutTimes(normal.stderr));
});

test('sanitizer build: a live capture spread over 2 workers by flow (tunnels, fragments, short and malformed headers) gives the documents of the normal build', () => {
  const files = ['erspan.pcap', 'gtp9_unknown_or_too_short_payload.pcap', 'ipv6-next-header-oobr-1.pcap', 'various_gre.pcap', 'pppoe.pcap', 'gso-ipv6-vxlan-ipv6.pcap', 'ipv6-gtp6.pcap', 'linux_dlt_sll2.pcap', 'olsr-oobr-1.pcap'];
  const dir = tempDir('sanitized-workers');
  for (const file of files) {
    const documents = (env: NodeJS.ProcessEnv | undefined, name: string) => {
      const out = path.join(dir, name);
      const run = espcap(['--nic', 'test0', '--test-live-source', path.join(corpusDir, file), '--workers', '2', '--output', out], { env });
      assertClean(run, file);
      assert.equal(run.status, 0, run.stderr);
      // The two workers' documents interleave; the run's id is its own.
      return parseNdjson(fs.readFileSync(out, 'utf8'))
        .map(({ capture_id, ...rest }) => rest)
        .sort((a, b) => a.frame_number - b.frame_number);
    };
    const expected = documents(undefined, `${file}.normal`);
    assert.ok(expected.length > 0, file);
    assert.deepEqual(documents(sanitized, `${file}.sanitized`), expected, file);
  }
});

test('sanitizer build: --query checks the filter and --write reads frames back, the same pcapng as the normal build', async () => {
  await resetCluster();
  const indexed = espcap(['--dir', testPcaps, '--node', esUrl(), '--quiet']);
  assert.equal(indexed.status, 0, indexed.stderr);
  const dir = tempDir('sanitized-query');
  const written = (env: NodeJS.ProcessEnv | undefined, file: string) => {
    const run = espcap(['--node', esUrl(), '--query', 'dns || tcp.flags.syn == 1', '--write', path.join(dir, file)], { env });
    assertClean(run, '--query');
    assert.equal(run.status, 0, run.stderr);
    return fs.readFileSync(path.join(dir, file));
  };
  const expected = written(undefined, 'normal.pcapng');
  assert.ok(expected.length > 10_000);
  assert.deepEqual(written(sanitized, 'sanitized.pcapng'), expected);
  const refused = espcap(['--node', esUrl(), '--query', 'tcp.port in {80 443}'], { env: sanitized });
  assertClean(refused, 'a bad filter');
  assert.equal(refused.status, 2, refused.stderr);
});

const cannot = canMakeNetworks();

test('sanitizer build: live capture over veth, every packet captured and written', { skip: cannot, timeout: 300_000 }, async (t) => {
  const net = new VethPair('san');
  t.after(() => net.remove());
  const out = path.join(tempDir('sanitized-live'), 'live.ndjson');
  // The runtime preloaded into node only: ip netns exec runs env, env runs node.
  const child = spawn('ip', ['netns', 'exec', net.capture, 'env', `LD_PRELOAD=${sanitized.LD_PRELOAD}`, process.execPath, espcapBin, '--nic', net.nic, '--output', out, '--count', '1268'], {
    env: { ...sanitized, LD_PRELOAD: '' },
    detached: true,
  });
  t.after(() => {
    if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  for (let waited = 0; !/capturing on/.test(stderr); waited += 100) {
    assert.ok(waited < 30_000 && child.exitCode === null, `espcap did not start capturing:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  net.replay(path.join(testPcaps, 'test_http.pcap'), 1000);
  const late = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`espcap did not stop at --count 1268:\n${stderr}`)), 120_000).unref());
  const status = await Promise.race([exited, late]);
  assertClean({ status, stderr }, 'live capture');
  assert.equal(status, 0, stderr);
  const docs = parseNdjson(fs.readFileSync(out, 'utf8'));
  assert.equal(docs.length, 1268);
  assert.deepEqual(docs.map((d) => d.frame_number), docs.map((_, i) => i + 1));
  assert.match(stderr, /1268 packets captured on espcap0 .* 1268 dissected; dropped: 0 by the kernel, 0 by the interface, 0 by espcap, stopped at --count 1268/);
});
