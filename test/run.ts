// `npm test`: starts a local Elasticsearch once (unless ESPCAP_TEST_ES_URL
// names an existing cluster), runs every test file with Node's test runner,
// and stops Elasticsearch again. `npm test -- elasticsearch cli` runs only the
// test files whose names contain one of the words.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
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
  try {
    // One file at a time: the files that index share one cluster and reset it.
    const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit', env: process.env });
    return result.status ?? 1;
  } finally {
    await stop?.();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`npm test: ${(err as Error).message}`);
    process.exit(1);
  },
);
