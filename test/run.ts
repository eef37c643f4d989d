// `npm test`: the unit tests first (test/unit/: no cluster, no espcap
// process, seconds), then the integration tests (test/*.test.ts): first
// those that need no Elasticsearch, then, with a local Elasticsearch started
// for them (unless ESPCAP_TEST_ES_URL names an existing cluster) and stopped
// again at the end, those that do. No cluster is started when no selected
// file needs one. `npm test -- elasticsearch cli` runs only the test files
// whose names (unit/args.test.js, cli.test.js, ...) contain one of the words;
// `npm run test:unit` is `npm test -- unit/`.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as harness from './cluster';

const dir = __dirname;

async function main(): Promise<number> {
  const only = process.argv.slice(2);
  const chosen = (name: string) => only.length === 0 || only.some((word) => name.includes(word));
  const unit = testFiles('unit').filter(chosen);
  const integration = testFiles('.').filter(chosen);
  if (unit.length + integration.length === 0) {
    console.error(`no test files found in ${dir}${only.length ? ` whose names contain ${only.join(', ')}` : ''}`);
    return 1;
  }
  const wrong = unit.filter((f) => needsCluster(f));
  if (wrong.length) {
    console.error(`npm test: unit tests run without a cluster, but ${wrong.join(', ')} reads ESPCAP_TEST_ES_URL: make it an integration test`);
    return 1;
  }
  const withCluster = integration.filter((f) => needsCluster(f));
  const withoutCluster = integration.filter((f) => !withCluster.includes(f));

  const reports = fs.mkdtempSync(path.join(os.tmpdir(), 'espcap-test-'));
  const taps: string[] = [];
  let status = 0;
  let stop: (() => Promise<void>) | undefined;
  let unitFailed = false;
  try {
    if (unit.length) {
      console.error(`npm test: ${unit.length} unit test file${unit.length === 1 ? '' : 's'}`);
      // Files side by side: they share nothing.
      status = runFiles(unit, { deadlineMs: UNIT_DEADLINE_MS }, reports, taps);
      // A unit failure is cheap to see and fix: the integration tests (minutes, a cluster) would only repeat it.
      unitFailed = status !== 0;
      if (unitFailed && integration.length) console.error('npm test: unit tests failed: integration tests not run');
    }
    if (!unitFailed && withoutCluster.length) {
      console.error(`npm test: ${withoutCluster.length} integration test file${withoutCluster.length === 1 ? '' : 's'} without Elasticsearch`);
      status = runFiles(withoutCluster, { deadlineMs: TEST_DEADLINE_MS, oneAtATime: true }, reports, taps);
    }
    if (!unitFailed && withCluster.length) {
      if (!process.env.ESPCAP_TEST_ES_URL) {
        console.error('starting a local Elasticsearch for the tests (set ESPCAP_TEST_ES_URL to use an existing cluster)');
        const cluster = await harness.start({ quiet: true });
        process.env.ESPCAP_TEST_ES_URL = cluster.url;
        if (!cluster.reused) {
          // Tests may crash and restart a cluster this run started, never someone
          // else's; stop() stops it whatever its process is by then.
          process.env.ESPCAP_TEST_ES_MANAGED = '1';
          stop = () => harness.stop({ quiet: true });
        }
        console.error(`Elasticsearch at ${cluster.url}`);
      }
      console.error(`npm test: ${withCluster.length} integration test file${withCluster.length === 1 ? '' : 's'} with Elasticsearch`);
      const clusterStatus = runFiles(withCluster, { deadlineMs: TEST_DEADLINE_MS, oneAtATime: true }, reports, taps);
      status ||= clusterStatus;
    }
    const skipsFailed = checkSkips(taps.join('\n'));
    return status || (skipsFailed ? 1 : 0);
  } finally {
    fs.rmSync(reports, { recursive: true, force: true });
    await stop?.();
  }
}

/** The longest any test may take unless it sets its own timeout. */
const TEST_DEADLINE_MS = 20 * 60_000;
/** The same for a unit test: the whole layer takes seconds, so a hang shows within a minute. */
const UNIT_DEADLINE_MS = 60_000;

/** The test files of a directory of dist/test, by their names relative to it (unit/args.test.js, cli.test.js). */
function testFiles(sub: string): string[] {
  const from = path.join(dir, sub);
  if (!fs.existsSync(from)) return [];
  return fs
    .readdirSync(from)
    .filter((f) => f.endsWith('.test.js'))
    .sort()
    .map((f) => path.posix.join(sub, f));
}

/**
 * Whether a test file needs the Elasticsearch this runner starts. The runner
 * hands a test its cluster in ESPCAP_TEST_ES_URL (and ESPCAP_TEST_ES_MANAGED)
 * and in no other way: test/support/elasticsearch.ts reads it for the tests
 * that import it. So a file that names neither variable, itself or in a test
 * module it requires, cannot use the cluster, and one that does may. The
 * compiled code is read, not a list kept here: a new test cannot be
 * forgotten in it (a comment naming the variable only starts a cluster that
 * was not needed). Tests that start clusters of their own with the harness
 * (elasticsearch-9, cluster-faults) also import test/support/elasticsearch.
 */
function needsCluster(file: string, seen = new Set<string>()): boolean {
  const full = path.resolve(dir, file);
  if (seen.has(full) || !fs.existsSync(full)) return false;
  seen.add(full);
  const code = fs.readFileSync(full, 'utf8');
  if (/ESPCAP_TEST_ES_(URL|MANAGED)/.test(code)) return true;
  for (const [, required] of code.matchAll(/require\("(\.\.?\/[^"]+)"\)/g)) {
    const module = path.resolve(path.dirname(full), required.endsWith('.js') ? required : `${required}.js`);
    // Test modules only: src/ is espcap itself, which knows nothing of the test cluster.
    if (module.startsWith(dir + path.sep) && needsCluster(path.relative(dir, module), seen)) return true;
  }
  return false;
}

/**
 * Runs test files with Node's test runner; its exit status. Every test has a
 * deadline (its own, or `deadlineMs`): a hang fails it. The report goes to the
 * terminal and, for the check of skips, to a file whose text joins `taps`.
 */
function runFiles(files: string[], options: { deadlineMs: number; oneAtATime?: boolean }, reports: string, taps: string[]): number {
  const report = path.join(reports, `report-${taps.length}.tap`);
  const result = spawnSync(
    process.execPath,
    [
      '--test',
      // One file at a time for the integration tests: the files that index share one cluster and reset it.
      ...(options.oneAtATime ? ['--test-concurrency=1'] : []),
      `--test-timeout=${options.deadlineMs}`,
      '--test-reporter=tap',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${report}`,
      ...files.map((f) => path.join(dir, f)),
    ],
    { stdio: 'inherit', env: process.env },
  );
  taps.push(fs.existsSync(report) ? fs.readFileSync(report, 'utf8') : '');
  return result.status ?? 1;
}

/**
 * A skipped test is a claim left untested, so skips are printed with their
 * reasons. Only what CONTRIBUTING.md lists may be missing: root (network
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
