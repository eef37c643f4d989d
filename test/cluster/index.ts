// The test-cluster harness: a local Elasticsearch for espcap's tests and for
// a first try of espcap. One typed API for the test runner (test/run.ts), the
// tests, and the command line (scripts/elasticsearch.js, which calls main):
//
//   import * as harness from './cluster';
//   const { url, stop, reused } = await harness.start({ quiet: true });
//   ...; await stop();            // or: await harness.stop();
//   await harness.kill();                               // crash it (SIGKILL), data kept
//   await harness.start({ quiet: true, keepData: true }); // the same cluster back
//   const cluster = await harness.startCluster({ nodes: 3 }); // for fault tests
//
// The distribution is the Maven artifact
// org.elasticsearch.distribution.integ-test-zip:elasticsearch:<version>:zip,
// fetched with `mvn dependency:copy` into the cache dir (download.ts). It
// carries no JDK, so a JDK >= 17 is taken from ESPCAP_JAVA_HOME or found on
// this machine (jdk.ts). Each start gets a fresh, empty cluster in <cache>/run
// (unless keepData).
//
// Environment:
//   ESPCAP_ES_VERSION   Elasticsearch version (default 8.19.21)
//   ESPCAP_ES_HOME      cache dir (default ~/.cache/espcap/elasticsearch; as root
//                       /var/cache/espcap/elasticsearch)
//   ESPCAP_JAVA_HOME    JDK to run Elasticsearch with (default: a JDK >= 17 found here)
//   ESPCAP_ES_HEAP      JVM heap (default: a quarter of the memory, 1 to 4 GiB)
//
// Elasticsearch refuses to run as root: as root, it runs as the system user
// espcap-es (created if missing), which owns the distribution and the run dir
// (process.ts).
import { ClusterError, NAME } from './common';
import { start, status, stop } from './cluster';

export { kill, pickJava, start, startCluster, status, stop } from './cluster';
export type { ClusterOptions, StartOptions, Started, Status, TestCluster } from './cluster';
export type { Java } from './jdk';

const USAGE = 'usage: node scripts/elasticsearch.js start|stop|status';

/**
 * The command line:
 *   start    fetch (first time), start, wait until healthy; prints the URL as the last line of stdout
 *   stop     stop it (SIGTERM, up to 60 s, then SIGKILL)
 *   status   print the URL if it runs and is healthy
 * Returns the exit code; an error is printed as one line on stderr.
 */
export async function main(argv: string[]): Promise<number> {
  try {
    return await command(argv);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`${NAME}: ${msg.split('\n')[0]}\n`);
    return 1;
  }
}

async function command(argv: string[]): Promise<number> {
  const cmd = argv[0];
  if (cmd === 'help' || cmd === '--help' || cmd === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (argv.length !== 1 || !['start', 'stop', 'status'].includes(cmd)) throw new ClusterError(USAGE);
  if (cmd === 'start') {
    const { url } = await start();
    process.stdout.write(`${url}\n`);
  } else if (cmd === 'stop') {
    await stop();
  } else {
    const s = await status();
    if (!s.running) throw new ClusterError('elasticsearch is not running');
    if (!s.healthy) throw new ClusterError(`elasticsearch (pid ${s.pid}) runs but is not healthy at ${s.url}`);
    process.stderr.write(`${NAME}: elasticsearch ${s.version} running (pid ${s.pid})\n`);
    process.stdout.write(`${s.url}\n`);
  }
  return 0;
}
