// `npm test`: starts a local Elasticsearch once (unless ESPCAP_TEST_ES_URL
// names an existing cluster), runs every test file with Node's test runner,
// and stops Elasticsearch again. `npm test -- elasticsearch cli` runs only the
// test files whose names contain one of the words.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

interface Harness {
  start(options: { quiet: boolean }): Promise<{ url: string; reused: boolean }>;
  stop(options: { quiet: boolean }): Promise<void>;
}

async function main(): Promise<number> {
  const dir = __dirname;
  const only = process.argv.slice(2);
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.test.js') && (only.length === 0 || only.some((word) => f.includes(word))))
    .sort()
    .map((f) => path.join(dir, f));
  if (files.length === 0) {
    console.error('no test files found in ' + dir);
    return 1;
  }

  let stop: (() => Promise<void>) | undefined;
  if (!process.env.ESPCAP_TEST_ES_URL) {
    const harness = require(path.join(dir, '..', '..', 'scripts', 'elasticsearch.js')) as Harness;
    console.error('starting a local Elasticsearch for the tests (set ESPCAP_TEST_ES_URL to use an existing cluster)');
    const cluster = await harness.start({ quiet: true });
    process.env.ESPCAP_TEST_ES_URL = cluster.url;
    // The harness works here: tests may start clusters of their own with it.
    process.env.ESPCAP_TEST_HARNESS = '1';
    if (!cluster.reused) {
      // Tests may crash and restart a cluster this run started, never someone
      // else's; stop() stops it whatever its process is by then.
      process.env.ESPCAP_TEST_ES_MANAGED = '1';
      stop = () => harness.stop({ quiet: true });
    }
    console.error(`Elasticsearch at ${cluster.url}`);
  }
  const report = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'espcap-test-')), 'report.tap');
  try {
    // One file at a time: the files that index share one cluster and reset it.
    // Every test has a deadline (its own, or TEST_DEADLINE_MS): a hang fails it.
    // The report goes to the terminal and, for the check of skips below, to a file.
    const result = spawnSync(
      process.execPath,
      ['--test', '--test-concurrency=1', `--test-timeout=${TEST_DEADLINE_MS}`, '--test-reporter=tap', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${report}`, ...files],
      { stdio: 'inherit', env: process.env },
    );
    const skipsFailed = checkSkips(fs.readFileSync(report, 'utf8'));
    return result.status || (skipsFailed ? 1 : 0);
  } finally {
    fs.rmSync(path.dirname(report), { recursive: true, force: true });
    await stop?.();
  }
}

/** The longest any test may take unless it sets its own timeout. */
const TEST_DEADLINE_MS = 20 * 60_000;

/**
 * A skipped test is a claim left untested, so skips are printed with their
 * reasons. Only what the README lists may be missing: root (network
 * namespaces, mounting a small file system) and a Java 21 or newer for the
 * Elasticsearch 9 test (Debian 12 has none). As root, which CI is, any other
 * skip fails the run.
 */
function checkSkips(tap: string): boolean {
  const skips = [...tap.matchAll(/^\s*ok \d+ - (.*) # SKIP ?(.*)$/gm)]
    .map(([, name, reason]) => ({ name, reason }))
    .filter((s) => s.reason !== 'test name does not match pattern');
  for (const s of skips) console.error(`npm test: skipped: ${s.name} (${s.reason || 'no reason given'})`);
  const refused = process.getuid?.() === 0 ? skips.filter((s) => !s.reason.startsWith('needs Java 21')) : [];
  if (refused.length) {
    console.error(`npm test: ${refused.length} test${refused.length === 1 ? '' : 's'} skipped as root: every test must run here`);
    return true;
  }
  return false;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`npm test: ${(err as Error).message}`);
    process.exit(1);
  },
);
