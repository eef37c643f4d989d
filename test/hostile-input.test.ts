// Hostile and broken input, beyond the damaged files of broken-input.test.ts:
// the engine's own C++ built with AddressSanitizer, UndefinedBehaviorSanitizer
// and LeakSanitizer (native/tools, scripts/sanitize.js) over the whole
// corpus, the regression inputs and damaged variants of corpus captures; the
// real CLI over every regression input; and the packet fuzzer for a minute.
// Needs clang and libFuzzer (scripts/install-deps.sh); without them these
// tests fail, saying so.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { corpusDir, corpusEntries, repoRoot, tempDir } from './support/paths';
import { espcap, parseNdjson, tshark } from './support/programs';

const SEED = 1;
const VARIANTS = 400;
const FUZZ_SECONDS = 60;
const sanitizeScript = path.join(repoRoot, 'scripts', 'sanitize.js');
const regressionDir = path.join(repoRoot, 'test', 'regression-inputs');
const regressionInputs = fs
  .readdirSync(regressionDir)
  .filter((f) => !f.startsWith('.') && f !== 'README.md')
  .sort();

/** Runs scripts/sanitize.js and reads the summary it writes. */
function sanitize(args: string[], timeoutSeconds: number): { status: number | null; stderr: string; summary: any } {
  const json = path.join(tempDir('sanitize'), 'summary.json');
  // --no-save: a test does not write into the repository; the failure names the input.
  const r = spawnSync(process.execPath, [sanitizeScript, ...args, '--json', json, '--no-save'], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    timeout: timeoutSeconds * 1000,
  });
  const summary = fs.existsSync(json) ? JSON.parse(fs.readFileSync(json, 'utf8')) : null;
  assert.ok(summary, `scripts/sanitize.js ${args.join(' ')} wrote no summary (status ${r.status}, signal ${r.signal}):\n${r.stderr}`);
  return { status: r.status, stderr: r.stderr, summary };
}

test('sanitizer run: corpus, damaged files, regression inputs and variants dissect with no report, crash, hang or leak of ours', { timeout: 8 * 60_000 }, () => {
  const { status, stderr, summary: s } = sanitize(['run', '--seed', String(SEED), '--variants', String(VARIANTS)], 7 * 60);
  const corpusFiles = fs.readdirSync(corpusDir).filter((f) => f !== 'MANIFEST.tsv');

  assert.equal(s.corpus, corpusFiles.length, 'every corpus file was dissected');
  assert.equal(s.regressionInputs, regressionInputs.length, 'every regression input was dissected');
  assert.equal(s.variants, VARIANTS);
  assert.equal(s.files, corpusFiles.length + regressionInputs.length + VARIANTS);
  const problems = JSON.stringify(s.broken, null, 1);
  assert.equal(s.crashes, 0, problems);
  assert.equal(s.hangs, 0, problems);
  assert.equal(s.sanitizerReports, 0, problems);
  assert.equal(s.invalidDocuments, 0, problems);
  assert.equal(s.ownLeaks, 0, problems);
  assert.equal(s.captureErrorsNotOneLine, 0);
  assert.equal(s.clean + s.captureErrors, s.files);
  assert.equal(status, 0, stderr);

  // The corpus ends as its manifest says: readable captures clean, the others one capture error each.
  const outcome = new Map<string, any>(s.results.map((r: any) => [r.file, r]));
  for (const entry of corpusEntries()) {
    const r = outcome.get(entry.path);
    const readable = entry.packets !== null && !entry.file.startsWith('bad_');
    assert.equal(r.outcome, readable ? 'clean' : 'capture-error', entry.file);
    if (!readable) assert.equal(r.errorLines.length, 1, `${entry.file}: ${r.errorLines.join(' | ')}`);
  }
  // The variants are damaged, but not all beyond reading: both kinds occur.
  const variants = s.results.filter((r: any) => r.source === 'variant');
  assert.ok(variants.filter((r: any) => r.outcome === 'clean').length >= VARIANTS / 10, 'some variants read to their end');
  assert.ok(variants.filter((r: any) => r.outcome === 'capture-error').length >= VARIANTS / 10, 'some variants are capture errors');
});

test('espcap on every regression input: exit 0 or 1, errors as one line starting "espcap: ", the packets tshark reads, no dissecting process dies', { timeout: 5 * 60_000 }, async () => {
  assert.ok(regressionInputs.length > 0, `no regression inputs in ${regressionDir}`);
  for (const name of regressionInputs) {
    const file = path.join(regressionDir, name);
    const run = espcap(['--file', file, '--output', '-']);
    assert.ok(run.status === 0 || run.status === 1, `${name}: exit ${run.status}\n${run.stderr}`);
    const lines = run.stderr.split('\n').filter((l) => l.length > 0);
    for (const line of lines) assert.ok(line.startsWith('espcap: '), `${name}: ${line}`);
    assert.doesNotMatch(run.stderr, /^\s+at /m, `${name}: no stack trace`);
    const errors = lines.filter((l) => l.startsWith(`espcap: ${file}: `));
    assert.equal(errors.length, run.status, `${name}: one error line naming the file exactly when it fails:\n${run.stderr}`);
    // A crash is what this test exists to catch: a dissecting process that dies fails it.
    assert.doesNotMatch(run.stderr, /the dissecting process died/, `${name}: crashed`);
    // Every good packet before the damage, as many as tshark reads.
    const docs = parseNdjson(run.stdout);
    const tsharkPackets = (await tshark(['-r', file, '-T', 'fields', '-e', 'frame.number'])).split('\n').filter(Boolean).length;
    assert.equal(docs.length, tsharkPackets, `${name}: packets`);
  }
});

test(`libFuzzer on one packet through epan and LayerWriter for ${FUZZ_SECONDS} s: no crash, no invalid JSON`, { timeout: (FUZZ_SECONDS + 180) * 1000 }, () => {
  const { status, stderr, summary: s } = sanitize(['fuzz', String(FUZZ_SECONDS)], FUZZ_SECONDS + 170);
  assert.equal(s.exitCode, 0, stderr);
  assert.equal(s.signal, null);
  assert.deepEqual(s.artifacts, [], 'no crashing, leaking or slow input');
  assert.ok(s.runs >= 1000, `only ${s.runs} inputs ran`);
  assert.ok(s.seedInputs > 100, 'seeded from corpus packets');
  assert.equal(status, 0, stderr);
});
