// Elasticsearch 9 as well as 8: docs/elasticsearch.md says espcap indexes into both
// (the 8.x client's compatible-with=8 headers). A single node of the 9.x
// integ-test zip, started here by the harness on a Java 21 or newer JDK and
// removed at the end, gets the shipped captures; what is in it is checked
// against tshark and against espcap's own NDJSON.
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir, testPcaps } from './support/paths';
import { Doc, espcap, parseNdjson } from './support/programs';
import { es, summary, tsharkCountsPerIndex } from './support/elasticsearch';
import * as harness from './cluster';

const VERSION = '9.2.0';
const captures = fs.readdirSync(testPcaps).map((f) => path.join(testPcaps, f));
// Debian 12 packages Java 17 only: the JDK 21 or newer comes from elsewhere (e.g. Temurin under /usr/lib/jvm).
let noJava: string | false = false;
try {
  harness.pickJava(VERSION);
} catch (err) {
  noJava = `needs Java 21 or newer for Elasticsearch ${VERSION}: ${(err as Error).message}`;
}
let cluster: harness.TestCluster;
let url: string;

before(async () => {
  if (noJava) return;
  cluster = await harness.startCluster({ nodes: 1, quiet: true, heap: '1g', version: VERSION });
  url = cluster.urls[0];
});

after(() => cluster?.close());

test(`Elasticsearch ${VERSION}: every shipped capture indexed, per-index counts equal tshark's, documents equal the NDJSON output`, { timeout: 600_000, skip: noJava }, async () => {
  const run = espcap(['--dir', testPcaps, '--node', url, '--dead-letter', path.join(tempDir('dl'), 'dead.ndjson')]);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, new RegExp(`^espcap: indexing into Elasticsearch ${VERSION.replace(/\./g, '\\.')} at `, 'm'));
  const expected = await tsharkCountsPerIndex(captures);
  const total = [...expected.values()].reduce((a, b) => a + b, 0);
  const s = summary(run.stderr);
  assert.equal(s.indexed, total);
  assert.equal(s.duplicates + s.deadLettered + s.notSent, 0);

  const rows = (await es('GET', '/_cat/indices/packets-*?format=json&h=index,docs.count', undefined, url)) as { index: string; 'docs.count': string }[];
  assert.deepEqual(new Map(rows.map((r): [string, number] => [r.index, Number(r['docs.count'])]).sort()), new Map([...expected].sort()));
  assert.equal((await es('GET', '/_cluster/health?wait_for_status=green&timeout=30s', undefined, url)).status, 'green');

  // The DNS capture's documents, read back, are the NDJSON documents.
  const dns = path.join(testPcaps, 'test_dns.pcap');
  const docs = parseNdjson(espcap(['--file', dns, '--output', '-', '--quiet']).stdout);
  const hits = (await es('POST', '/packets-*/_search', { size: 1000, query: { term: { capture_id: docs[0].capture_id } }, sort: ['frame_number'] }, url)).hits.hits as { _source: Doc }[];
  assert.equal(hits.length, docs.length);
  hits.forEach((h, i) => assert.deepEqual(h._source, docs[i]));
  // Typed fields answer typed queries: an address range and a port.
  const query = { bool: { filter: [{ term: { capture_id: docs[0].capture_id } }, { term: { 'destination.port': 53 } }, { term: { 'source.ip': '10.0.0.0/8' } }] } };
  const expectedHits = docs.filter((d) => d.destination?.port === 53 && /^10\./.test(d.source?.ip ?? '')).length;
  assert.ok(expectedHits > 0);
  assert.equal((await es('POST', '/packets-*/_count', { query }, url)).count, expectedHits);
});
