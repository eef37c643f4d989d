#!/usr/bin/env node
// The engine's C++ (native/*.cc) under AddressSanitizer, UndefinedBehavior-
// Sanitizer and LeakSanitizer, without Node: the tools of native/tools, built
// with clang into build/sanitize (rebuilt only when a source changed).
//
//   node scripts/sanitize.js run [--seed S] [--variants N] [--variants-only] [--timeout SECONDS] [--jobs N] [--json FILE] [--no-save]
//   node scripts/sanitize.js fuzz SECONDS [--json FILE] [--no-save]
//
// run: dissect_file on every capture of the shared corpus (the damaged bad_*
// ones too), every file in test/regression-inputs/, and N damaged variants
// (scripts/mutate-captures.js, seed S) of a fixed set of corpus captures
// (--variants-only: just those, for long mutation runs). One process per
// file, each with a time limit (a hang is a failure). Any sanitizer report
// is fatal. LeakSanitizer reports, at exit, memory nobody points to any
// more: a leak whose allocation was made by native/ code is ours and fails
// the run; leaks inside libwireshark, glib or libgcrypt themselves are only
// counted.
//
// fuzz: native/tools/fuzz_packet under libFuzzer for SECONDS, seeded with
// the packets of a few corpus captures (and their application payloads as
// upper-PDU packets naming the dissector).
//
// A variant or fuzzer input that breaks something is saved, as a capture
// file, into test/regression-inputs/ under a name saying what broke. Exit
// code 0 only if nothing did.
'use strict';
const { spawn, spawnSync, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { writeVariants, fuzzerInputs, FUZZ_LINKS } = require('./mutate-captures');

const root = path.join(__dirname, '..');
const buildDir = path.join(root, 'build', 'sanitize');
const nativeDir = path.join(root, 'native') + path.sep;
const regressionDir = path.join(root, 'test', 'regression-inputs');
const corpusDir = process.env.ESPCAP_CORPUS ?? path.join(root, '..', 'shared', 'pcaps', 'corpus');

// Captures the variants are made from: small, and between them pcap and
// pcapng, nanosecond pcap, several link types and dissectors with state.
const VARIANT_BASES = [
  'websocket.pcap', // Ethernet, HTTP upgrade
  'tls-12-amazon-rds.pcap', // TLS handshake
  'dhcp.pcap',
  'ipv6-http-atomic-frag.pcap', // IPv6 fragments
  'smb2.delete-on-close-perms-delete-existing.pcap', // SMB2 over TCP
  'timestamp_invalid_nano.pcap', // nanosecond pcap, Linux SLL
  'linux_dlt_sll2.pcap',
  'Network_Join_Nokia_Mobile.pcap', // IEEE 802.11
  'status_code-14.pcap', // 802.11 radiotap
  'payload-synack.pcap', // raw IP
  'nflog.pcap',
  'ikev2four.pcap', // BSD loopback, IKEv2
  'handshake.pcap', // PPP
  'pcapng-multi-interface.pcapng',
  'gap-data-missing.pcapng', // 126 interfaces
  'pdp_ctx_messages.pcapng', // GTP
  'vsock-1.pcapng',
];

// Captures whose packets seed the fuzzer: one or more per link type it knows.
const FUZZ_SEED_CAPTURES = [
  'websocket.pcap', 'tls-12-amazon-rds.pcap', 'dhcp.pcap', 'nbns.pcap', 'ipv6-http-atomic-frag.pcap',
  'smb2.delete-on-close-perms-delete-existing.pcap', 'gre-sample.pcap', 'stun-ice-testcall.pcap',
  'timestamp_invalid_nano.pcap', 'linux_dlt_sll2.pcap', 'gtp-iphone.pcap', 'Network_Join_Nokia_Mobile.pcap',
  'status_code-14.pcap', 'reason_code-40.pcap', 'payload-synack.pcap', 'ipv6_mobility_1.pcap', 'tcp-syslog.pcap',
  'nflog.pcap', 'ikev2four.pcap', 'handshake.pcap', 'ppp_ip_udp_dns.pcap', 'pcapng-multi-interface.pcapng',
];

const EXIT_SANITIZER = 23; // the sanitizers' exit code here: not one dissect_file uses

class Failure extends Error {}

function log(message) {
  process.stderr.write(`sanitize: ${message}\n`);
}

function onPath(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).stdout.trim() || null;
}

// ---------------------------------------------------------------- building

function build() {
  const cxx = llvmTool('clang++');
  const missing = 'the sanitizer tools need clang with its sanitizer and libFuzzer runtimes (Debian 12: clang-14 libclang-rt-14-dev libfuzzer-14-dev llvm-14, Debian 13: the same of 19; scripts/install-deps.sh installs them)';
  if (!cxx) throw new Failure(`clang++ not found: ${missing}`);
  // Without symbols no leak can be told to be ours.
  if (!symbolizer()) throw new Failure(`llvm-symbolizer not found: ${missing}`);
  const runtimeDir = execFileSync(cxx, ['--print-runtime-dir'], { encoding: 'utf8' }).trim();
  for (const lib of ['libclang_rt.asan-x86_64.a', 'libclang_rt.fuzzer-x86_64.a'])
    if (!fs.existsSync(path.join(runtimeDir, lib))) throw new Failure(`${lib} not found in ${runtimeDir}: ${missing}`);
  if (!fs.existsSync(path.join(buildDir, 'CMakeCache.txt'))) {
    const generator = onPath('ninja') ? ['-G', 'Ninja'] : [];
    const configure = spawnSync('cmake', [...generator, '-S', path.join(root, 'native', 'tools'), '-B', buildDir, `-DCMAKE_CXX_COMPILER=${cxx}`], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (configure.status !== 0) throw new Failure('configuring the sanitizer tools failed (see above)');
  }
  const made = spawnSync('nice', ['-n', '10', 'cmake', '--build', buildDir], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (made.status !== 0) throw new Failure('building the sanitizer tools failed (see above)');
}

function symbolizer() {
  return llvmTool('llvm-symbolizer') ?? '';
}

/** An LLVM tool: the release's versioned one on the PATH (clang++-14, clang++-19, ...; the newest), else the unversioned name. */
function llvmTool(name) {
  const pattern = new RegExp(`^${name.replace(/[+]/g, '\\+')}-(\\d+)$`);
  let best = null;
  for (const dir of (process.env.PATH || '').split(':')) {
    let names = [];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) {
      const m = pattern.exec(n);
      if (m && (!best || Number(m[1]) > best.version)) best = { version: Number(m[1]), path: path.join(dir, n) };
    }
  }
  return best ? best.path : onPath(name);
}

// Every report fatal, with stacks; into files, one per process, when reportPrefix is given.
function sanitizerEnv(reportPrefix, { slowUnwind = false, leaks = true } = {}) {
  const common = [`exitcode=${EXIT_SANITIZER}`, 'halt_on_error=1', 'symbolize=1'];
  if (reportPrefix) common.push(`log_path=${reportPrefix}`);
  return {
    ...process.env,
    ASAN_OPTIONS: [...common, `detect_leaks=${leaks ? 1 : 0}`, 'handle_abort=1', 'malloc_context_size=40',
      // libwireshark and glib keep no frame pointers: the fast unwinder can stop at their frames.
      `fast_unwind_on_malloc=${slowUnwind ? 0 : 1}`].join(':'),
    UBSAN_OPTIONS: [...common, 'print_stacktrace=1'].join(':'),
    ASAN_SYMBOLIZER_PATH: symbolizer(),
  };
}

// ---------------------------------------------------------------- reports

const ALLOCATOR = /^(malloc|calloc|realloc|reallocarray|posix_memalign|aligned_alloc|memalign|valloc|strdup|strndup|operator new|__interceptor_|__asan_|g_malloc|g_malloc0|g_malloc_n|g_malloc0_n|g_realloc|g_realloc_n|g_try_malloc|g_try_malloc0|g_try_realloc|g_slice_alloc|g_slice_alloc0|g_slice_copy|g_memdup|g_memdup2|g_strdup|g_strndup|g_strdup_printf|g_strdup_vprintf|g_strconcat|g_strjoin|g_strsplit|g_new|wmem_alloc|wmem_alloc0|wmem_realloc|wmem_memdup|wmem_strdup|wmem_strndup|wmem_strdup_printf|wmem_strdup_vprintf|std::|__gnu_cxx::)/;

function parseFrame(line) {
  const m = /^\s*#(\d+) 0x[0-9a-f]+(?: in (.*?))?\s*(?:\(([^()]*)\+0x[0-9a-f]+\)|(\/\S+?):(\d+)(?::\d+)?)?(?: \(BuildId: [0-9a-f]+\))?$/.exec(line);
  if (!m) return null;
  // Without the frame number, address and build id: the same place in every process.
  const place = line.trim().replace(/^#\d+ 0x[0-9a-f]+ (in )?/, '').replace(/ \(BuildId: [0-9a-f]+\)$/, '').trim();
  return { text: line.trim(), place, fn: m[2] ?? '', module: m[3] ?? '', source: m[4] ? path.normalize(m[4]) : '' };
}

// The first frame that is not the allocator, the sanitizer or the C++
// library's allocation machinery: whoever asked for the memory.
function allocationSite(frames) {
  return frames.find((f) => !(ALLOCATOR.test(f.fn) || f.source.startsWith('/usr/include/c++/'))) ?? null;
}

/** Leaks and other reports in a sanitizer log. */
function parseReport(text) {
  const leaks = [];
  const errors = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const leak = /^(Direct|Indirect) leak of (\d+) byte\(s\) in (\d+) object\(s\) allocated from:/.exec(lines[i]);
    if (leak) {
      const frames = [];
      while (i + 1 < lines.length && /^\s+#\d+ /.test(lines[i + 1])) {
        const f = parseFrame(lines[++i]);
        if (f) frames.push(f);
      }
      const site = allocationSite(frames);
      leaks.push({
        kind: leak[1].toLowerCase(),
        bytes: Number(leak[2]),
        objects: Number(leak[3]),
        own: !!site && site.source.startsWith(nativeDir),
        site: site ? site.place : null,
        frames: frames.map((f) => f.text),
      });
      continue;
    }
    if (/ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer|MemorySanitizer)|runtime error:|AddressSanitizer:DEADLYSIGNAL/.test(lines[i]) && !/LeakSanitizer/.test(lines[i])) {
      const stack = lines.slice(i, i + 40).filter((l) => /^\s+#\d+ /.test(l)).slice(0, 12).map((l) => l.trim());
      errors.push({ title: lines[i].replace(/^==\d+==/, '').trim(), signal: /DEADLYSIGNAL|SEGV|on unknown address|ABRT/.test(lines[i]), stack });
    }
  }
  return { leaks, errors };
}

function readReports(prefix) {
  const dir = path.dirname(prefix);
  const base = path.basename(prefix);
  let text = '';
  for (const f of fs.readdirSync(dir).filter((n) => n.startsWith(base + '.'))) {
    text += fs.readFileSync(path.join(dir, f), 'utf8');
    fs.rmSync(path.join(dir, f));
  }
  return text;
}

// ---------------------------------------------------------------- one file

function timeLimit(file, seconds) {
  // Big captures take longer under ASan (17 s for 80k packets here): a hang is a multiple of that.
  const mb = fs.statSync(file).size / 1e6;
  return (seconds + 20 * mb) * 1000;
}

/** Dissects one file with dissect_file in a process of its own. */
function dissectOne(file, { timeout, reportDir, slowUnwind }) {
  const reportPrefix = path.join(reportDir, `r${process.pid}-${Math.random().toString(36).slice(2)}`);
  const driver = path.join(buildDir, 'dissect_file');
  return new Promise((resolve) => {
    const started = Date.now();
    // Session resets every 5,000 packets (espcap's default is 100,000): the reset path runs too.
    const child = spawn('nice', ['-n', '10', driver, '--session-packets', '5000', file], { env: sanitizerEnv(reportPrefix, { slowUnwind }), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, timeLimit(file, timeout));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const report = parseReport(readReports(reportPrefix));
      const result = { file, seconds: (Date.now() - started) / 1000, code, signal, leaks: report.leaks, errors: report.errors };
      const statusLine = stdout.split('\n').find((l) => l.startsWith('done ') || l.startsWith('capture-error '));
      const invalid = stdout.split('\n').filter((l) => l.startsWith('invalid-document '));
      const fatal = report.errors.filter((e) => !e.signal);
      if (hung) result.outcome = 'hang';
      else if (signal || report.errors.some((e) => e.signal) || ![0, 1, 3, EXIT_SANITIZER].includes(code)) result.outcome = 'crash';
      else if (fatal.length) result.outcome = 'report';
      else if (invalid.length) result.outcome = 'invalid-document';
      else if (!statusLine) result.outcome = 'crash'; // ended without saying how
      else if (statusLine.startsWith('capture-error ')) result.outcome = 'capture-error';
      else result.outcome = 'clean';
      if (result.outcome === 'capture-error') {
        const prefix = `dissect_file: ${file}: `;
        result.errorLines = stderr.split('\n').filter((l) => l.startsWith(prefix));
        result.errorCode = statusLine.split(' ').at(-1);
      }
      if (invalid.length) result.invalid = invalid.slice(0, 5);
      if (result.outcome === 'crash' || result.outcome === 'hang') result.stderrTail = stderr.split('\n').slice(-15).join('\n');
      resolve(result);
    });
  });
}

async function inParallel(items, jobs, work) {
  let next = 0;
  await Promise.all(Array.from({ length: jobs }, async () => {
    while (next < items.length) await work(items[next++]);
  }));
}

// ---------------------------------------------------------------- run

function saveRegression(file, what) {
  fs.mkdirSync(regressionDir, { recursive: true });
  const target = path.join(regressionDir, `${what}-${path.basename(file)}`);
  fs.copyFileSync(file, target);
  return path.relative(root, target);
}

async function run(options) {
  const started = Date.now();
  build();
  const reportDir = path.join(buildDir, 'reports');
  fs.rmSync(reportDir, { recursive: true, force: true });
  fs.mkdirSync(reportDir, { recursive: true });

  const inputs = [];
  const corpus = options.variantsOnly ? [] : fs.readdirSync(corpusDir).filter((f) => f !== 'MANIFEST.tsv').sort();
  for (const f of corpus) inputs.push({ file: path.join(corpusDir, f), source: 'corpus' });
  const regression = options.variantsOnly || !fs.existsSync(regressionDir) ? [] : fs.readdirSync(regressionDir).filter((f) => !f.startsWith('.') && f !== 'README.md').sort();
  for (const f of regression) inputs.push({ file: path.join(regressionDir, f), source: 'regression' });
  const variantDir = path.join(buildDir, 'variants', `seed-${options.seed}`);
  fs.rmSync(variantDir, { recursive: true, force: true });
  const bases = VARIANT_BASES.map((f) => path.join(corpusDir, f));
  for (const b of bases) if (!fs.existsSync(b)) throw new Failure(`${b} is missing: the variants are made from the shared corpus`);
  for (const v of writeVariants(bases, { seed: options.seed, count: options.variants, outDir: variantDir }))
    inputs.push({ file: v.file, source: 'variant' });
  log(`${inputs.length} files: ${corpus.length} corpus, ${regression.length} regression inputs, ${options.variants} variants (seed ${options.seed}), ${options.jobs} at a time`);

  const results = [];
  let done = 0;
  await inParallel(inputs, options.jobs, async (input) => {
    let result = await dissectOne(input.file, { timeout: options.timeout, reportDir });
    // A leak stack that ends in the allocator says nothing: again with the slow unwinder.
    if (result.leaks.some((l) => !l.site)) {
      const again = await dissectOne(input.file, { timeout: options.timeout * 10, reportDir, slowUnwind: true });
      if (again.outcome === result.outcome) result = { ...result, leaks: again.leaks, slowUnwind: true };
    }
    result.source = input.source;
    results.push(result);
    if (++done % 50 === 0) log(`${done}/${inputs.length} files`);
  });
  results.sort((a, b) => a.file.localeCompare(b.file));

  const count = (outcome) => results.filter((r) => r.outcome === outcome).length;
  const allLeaks = results.flatMap((r) => r.leaks.map((l) => ({ ...l, file: r.file })));
  const ownLeaks = allLeaks.filter((l) => l.own);
  const foreignLeaks = allLeaks.filter((l) => !l.own);
  const captureErrors = results.filter((r) => r.outcome === 'capture-error');
  const notOneLine = captureErrors.filter((r) => r.errorLines.length !== 1);
  const broken = results.filter((r) => ['crash', 'hang', 'report', 'invalid-document'].includes(r.outcome) || r.leaks.some((l) => l.own));
  const saved = [];
  for (const r of broken) {
    const what = r.leaks.some((l) => l.own) && r.outcome === 'clean' ? 'own-leak' : r.outcome;
    if (r.source === 'variant' && options.save) saved.push(saveRegression(r.file, what));
  }
  // Leaks inside the libraries, by where they were made, for the record.
  const foreignSites = new Map();
  for (const l of foreignLeaks) {
    const key = l.site ?? '(unknown: the stack ends in the allocator)';
    const s = foreignSites.get(key) ?? { site: key, leaks: 0, bytes: 0, files: new Set() };
    s.leaks++;
    s.bytes += l.bytes;
    s.files.add(path.basename(l.file));
    foreignSites.set(key, s);
  }

  const summary = {
    seed: options.seed,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    files: results.length,
    corpus: results.filter((r) => r.source === 'corpus').length,
    regressionInputs: results.filter((r) => r.source === 'regression').length,
    variants: results.filter((r) => r.source === 'variant').length,
    clean: count('clean'),
    captureErrors: captureErrors.length,
    captureErrorsNotOneLine: notOneLine.length,
    crashes: count('crash'),
    hangs: count('hang'),
    sanitizerReports: count('report'),
    invalidDocuments: count('invalid-document'),
    ownLeaks: ownLeaks.length,
    foreignLeaks: foreignLeaks.length,
    foreignLeakSites: [...foreignSites.values()].map((s) => ({ ...s, files: [...s.files].slice(0, 5) })),
    broken: broken.map((r) => ({ file: r.file, outcome: r.outcome, errors: r.errors, ownLeaks: r.leaks.filter((l) => l.own), invalid: r.invalid, stderrTail: r.stderrTail })),
    saved,
    results: results.map((r) => ({ file: r.file, source: r.source, outcome: r.outcome, seconds: r.seconds, errorCode: r.errorCode, errorLines: r.errorLines })),
  };
  if (options.json) fs.writeFileSync(options.json, JSON.stringify(summary, null, 1) + '\n');

  for (const r of summary.broken) {
    log(`${r.outcome}: ${r.file}`);
    for (const e of r.errors) log(`  ${e.title}\n    ${e.stack.join('\n    ')}`);
    for (const l of r.ownLeaks) log(`  own leak of ${l.bytes} bytes at ${l.site}\n    ${l.frames.slice(0, 8).join('\n    ')}`);
    for (const i of r.invalid ?? []) log(`  ${i}`);
    if (r.stderrTail) log(`  stderr: ${r.stderrTail.replace(/\n/g, '\n    ')}`);
  }
  for (const r of notOneLine) log(`capture error not reported as exactly one line: ${r.file}`);
  for (const s of saved) log(`saved ${s}`);
  log(`${summary.files} files (${summary.corpus} corpus, ${summary.regressionInputs} regression inputs, ${summary.variants} variants, seed ${summary.seed}) in ${summary.seconds} s`);
  log(`${summary.clean} clean, ${summary.captureErrors} capture errors (${summary.captureErrors - summary.captureErrorsNotOneLine} as one line), ` +
    `${summary.crashes} crashes, ${summary.hangs} hangs, ${summary.sanitizerReports} sanitizer reports, ${summary.invalidDocuments} invalid documents, ` +
    `${summary.ownLeaks} own leaks; ${summary.foreignLeaks} leaks inside libraries, from ${foreignSites.size} places`);
  for (const s of summary.foreignLeakSites) log(`  library leak: ${s.leaks} x, ${s.bytes} bytes, made in ${s.site} (${s.files.join(', ')})`);
  const failed = broken.length + notOneLine.length;
  return failed ? 1 : 0;
}

// ---------------------------------------------------------------- fuzz

// pcap link type of each fuzz_packet link index, to save inputs as captures.
const FUZZ_LINK_TYPES = [];
for (const [linktype, index] of FUZZ_LINKS) FUZZ_LINK_TYPES[index] ??= linktype;

/** A fuzzer input as a one-packet pcap file: dissect_file and espcap take the same path with it. */
function inputAsPcap(input) {
  const data = input.subarray(1);
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(FUZZ_LINK_TYPES[(input[0] & 0x7f) % FUZZ_LINK_TYPES.length], 20);
  const record = Buffer.alloc(16);
  record.writeUInt32LE(1700000000, 0);
  record.writeUInt32LE(data.length, 8);
  record.writeUInt32LE(input[0] & 0x80 ? data.length + 1000 : data.length, 12);
  return Buffer.concat([header, record, data]);
}

async function fuzz(options) {
  build();
  const seeds = path.join(buildDir, 'fuzz-seeds');
  fs.rmSync(seeds, { recursive: true, force: true });
  fs.mkdirSync(seeds, { recursive: true });
  for (const f of FUZZ_SEED_CAPTURES) {
    const file = path.join(corpusDir, f);
    if (!fs.existsSync(file)) throw new Failure(`${file} is missing: the fuzzer is seeded from the shared corpus`);
    fuzzerInputs(fs.readFileSync(file)).forEach((input, i) => fs.writeFileSync(path.join(seeds, `${f}-${i}`), input));
  }
  // New inputs found by earlier runs are kept here, so each run starts where the last ended.
  const corpus = path.join(buildDir, 'fuzz-corpus');
  const artifacts = path.join(buildDir, 'fuzz-artifacts') + path.sep;
  fs.mkdirSync(corpus, { recursive: true });
  fs.rmSync(artifacts, { recursive: true, force: true });
  fs.mkdirSync(artifacts, { recursive: true });
  // Reports go to libFuzzer's stderr. Leaks are left to `run`, which can
  // tell ours from the libraries' own: a leak inside libgcrypt would
  // otherwise end every fuzzing run at once.
  const env = sanitizerEnv(null, { leaks: false });
  const started = Date.now();
  const args = [`-max_total_time=${options.seconds}`, '-timeout=25', '-rss_limit_mb=8192', '-detect_leaks=0',
    '-print_final_stats=1', `-artifact_prefix=${artifacts}`, corpus, seeds];
  log(`fuzz_packet ${args.join(' ')}`);
  const result = await new Promise((resolve) => {
    const child = spawn('nice', ['-n', '10', path.join(buildDir, 'fuzz_packet'), ...args], { env, stdio: ['ignore', 'inherit', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
      if (options.verbose) process.stderr.write(d);
    });
    // libFuzzer ends by itself at max_total_time; this only guards a stuck start.
    const timer = setTimeout(() => child.kill('SIGKILL'), (options.seconds + 120) * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
  });
  const stat = (name) => Number(new RegExp(`stat::${name}:\\s*(\\d+)`).exec(result.stderr)?.[1] ?? 0);
  const saved = [];
  const found = fs.readdirSync(artifacts);
  for (const f of found) {
    const input = fs.readFileSync(path.join(artifacts, f));
    if (!input.length || !options.save) continue;
    const [, kind, sha] = /^(.*)-([0-9a-f]+)$/.exec(f) ?? [null, f, '']; // crash-, leak-, timeout-, oom-, slow-unit-<sha1>
    fs.mkdirSync(regressionDir, { recursive: true });
    const target = path.join(regressionDir, `fuzz-${kind}-${sha.slice(0, 12)}.pcap`);
    fs.writeFileSync(target, inputAsPcap(input));
    saved.push(path.relative(root, target));
  }
  const summary = {
    seconds: Math.round((Date.now() - started) / 100) / 10,
    exitCode: result.code,
    signal: result.signal,
    runs: stat('number_of_executed_units'),
    newUnits: stat('new_units_added'),
    peakRssMb: stat('peak_rss_mb'),
    corpusInputs: fs.readdirSync(corpus).length,
    seedInputs: fs.readdirSync(seeds).length,
    artifacts: found,
    saved,
  };
  if (options.json) fs.writeFileSync(options.json, JSON.stringify(summary, null, 1) + '\n');
  if (result.code !== 0) process.stderr.write(result.stderr.split('\n').slice(-60).join('\n') + '\n');
  for (const s of saved) log(`saved ${s}`);
  log(`fuzz: ${summary.runs} inputs in ${summary.seconds} s (${Math.round(summary.runs / Math.max(1, summary.seconds))}/s), ` +
    `${summary.newUnits} new, corpus ${summary.corpusInputs} + ${summary.seedInputs} seeds, peak RSS ${summary.peakRssMb} MB; ` +
    (result.code === 0 ? 'nothing found' : `libFuzzer exited ${result.signal ?? result.code}: ${found.join(', ') || 'no input saved'}`));
  return result.code === 0 && found.length === 0 ? 0 : 1;
}

// ---------------------------------------------------------------- command line

function parseArgs(argv) {
  const options = { mode: argv[0], seed: 1, variants: 200, variantsOnly: false, timeout: 30, jobs: Math.min(2, os.availableParallelism()), json: null, save: true, seconds: 60, verbose: false };
  const number = (v, name) => {
    if (!/^\d+$/.test(v ?? '')) throw new Failure(`${name} needs a whole number`);
    return Number(v);
  };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--seed') options.seed = number(argv[++i], a);
    else if (a === '--variants') options.variants = number(argv[++i], a);
    else if (a === '--timeout') options.timeout = number(argv[++i], a);
    else if (a === '--jobs') options.jobs = Math.max(1, number(argv[++i], a));
    else if (a === '--json') options.json = path.resolve(argv[++i]);
    else if (a === '--variants-only') options.variantsOnly = true;
    else if (a === '--no-save') options.save = false;
    else if (a === '--verbose') options.verbose = true;
    else if (options.mode === 'fuzz' && /^\d+$/.test(a)) options.seconds = Number(a);
    else throw new Failure(`unknown argument ${a}`);
  }
  if (options.mode !== 'run' && options.mode !== 'fuzz')
    throw new Failure('usage: sanitize.js run [--seed S] [--variants N] [--variants-only] [--timeout SECONDS] [--jobs N] [--json FILE] [--no-save] | fuzz SECONDS [--json FILE] [--no-save]');
  return options;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  return options.mode === 'run' ? run(options) : fuzz(options);
}

module.exports = { parseReport };

if (require.main === module)
  main().then(
    (code) => process.exit(code),
    (err) => {
      log(err instanceof Failure ? err.message : err.stack);
      process.exit(2);
    },
  );
