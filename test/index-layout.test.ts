// Which indices packets go to, and what indices espcap makes: --index-period
// (day, ISO week, month, year), --index-prefix, --shards, and replicas that a
// single node does not leave unassigned. Against the real test cluster, with
// the expected counts from tshark's packet times, and ISO weeks from GNU date.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MAX_INDEX_PREFIX } from '../src/cli/args';
import { indexName } from '../src/elasticsearch/mapping';
import { tempDir, testPcaps } from './support/paths';
import { espcap, parseNdjson } from './support/programs';
import { es, esUrl, packetIndices, resetCluster, summary, tsharkCountsPerIndex } from './support/elasticsearch';

const captures = fs.readdirSync(testPcaps).map((f) => path.join(testPcaps, f));

/** GNU date's name of a day's ISO week, e.g. 2015-w31 (index names are lower case). */
function isoWeek(day: string): string {
  return execFileSync('date', ['-u', '-d', day, '+%G-w%V'], { encoding: 'utf8' }).trim();
}

test('ISO weeks are named as GNU date names them, across year ends and leap years', () => {
  const days: string[] = [];
  // Every day from 2014-12-20 to 2021-01-10: years with 52 and 53 weeks, 2016 and 2020 leap years.
  for (let t = Date.UTC(2014, 11, 20); t <= Date.UTC(2021, 0, 10); t += 86400000) days.push(new Date(t).toISOString().slice(0, 10));
  // GNU date once for all of them.
  const names = execFileSync('date', ['-u', '-f', '-', '+%G-w%V'], { input: days.join('\n') + '\n', encoding: 'utf8' }).trim().split('\n');
  assert.equal(names.length, days.length);
  days.forEach((day, i) => assert.equal(indexName({ prefix: 'p', period: 'week' }, day), `p-${names[i]}`, day));
  assert.equal(isoWeek('2015-12-31'), '2015-w53');
});

/** tshark's packet counts per index of a period, from its counts per day. */
async function expectedFor(period: 'day' | 'week' | 'month' | 'year', prefix: string): Promise<Map<string, number>> {
  const perDay = await tsharkCountsPerIndex(captures);
  const counts = new Map<string, number>();
  for (const [dayIndex, n] of perDay) {
    const day = dayIndex.slice('packets-'.length);
    const name = period === 'week' ? `${prefix}-${isoWeek(day)}` : indexName({ prefix, period }, day);
    counts.set(name, (counts.get(name) ?? 0) + n);
  }
  return counts;
}

async function countsOf(pattern: string): Promise<Map<string, number>> {
  await es('POST', `/${pattern}/_refresh`);
  const rows = (await es('GET', `/_cat/indices/${pattern}?format=json&h=index,docs.count`)) as { index: string; 'docs.count': string }[];
  return new Map(rows.map((r) => [r.index, Number(r['docs.count'])]).sort() as [string, number][]);
}

for (const period of ['week', 'month', 'year'] as const) {
  test(`--index-period ${period} --index-prefix: every packet in the index of its ${period}, as tshark's times say; a second run skips every file`, { timeout: 300_000 }, async () => {
    await resetCluster();
    const prefix = `espcap-test-${period}`;
    const deadLetter = path.join(tempDir('dl'), 'dead.ndjson');
    const args = ['--dir', testPcaps, '--node', esUrl(), '--index-period', period, '--index-prefix', prefix, '--dead-letter', deadLetter];
    const run = espcap(args);
    assert.equal(run.status, 0, run.stderr);
    const expected = new Map([...(await expectedFor(period, prefix))].sort());
    assert.ok(expected.size >= 2, `the shipped captures span several ${period}s`);
    assert.deepEqual(await countsOf(`${prefix}-*`), expected);
    assert.equal((await es('GET', '/_cat/indices/packets-*?format=json')).length ?? 0, 0, 'nothing under the default prefix');
    // Resume knows the prefix: everything is found indexed.
    const again = espcap(args);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, new RegExp(`${captures.length} of ${captures.length} files already fully indexed`));
    assert.equal(summary(again.stderr).read, 0);
    await es('DELETE', `/_index_template/espcap-${prefix}`);
    for (const index of expected.keys()) await es('DELETE', `/${index}`);
  });
}

test('the longest --index-prefix (244 characters: 255-byte daily index names): every packet indexed, nothing dead-lettered; one more: one line, exit 2', { timeout: 300_000 }, async () => {
  await resetCluster();
  const prefix = 'p'.repeat(MAX_INDEX_PREFIX);
  const deadLetter = path.join(tempDir('dl'), 'dead.ndjson');
  const run = espcap(['--dir', testPcaps, '--node', esUrl(), '--index-prefix', prefix, '--dead-letter', deadLetter, '--quiet']);
  assert.equal(run.status, 0, run.stderr);
  assert.equal(fs.existsSync(deadLetter) ? fs.readFileSync(deadLetter, 'utf8') : '', '', 'nothing dead-lettered');
  const expected = new Map([...(await expectedFor('day', prefix))].sort());
  assert.ok([...expected.keys()].every((index) => Buffer.byteLength(index) === 255));
  assert.deepEqual(await countsOf(`${prefix}-*`), expected);
  await es('DELETE', `/_index_template/espcap-${prefix}`);
  for (const index of expected.keys()) await es('DELETE', `/${index}`);

  const tooLong = espcap(['--dir', testPcaps, '--node', esUrl(), '--index-prefix', prefix + 'p']);
  assert.equal(tooLong.status, 2);
  assert.equal(tooLong.stderr, `espcap: --index-prefix may have at most ${MAX_INDEX_PREFIX} characters (index names are at most 255 bytes), got ${MAX_INDEX_PREFIX + 1}\n`);
});

test('indices a single node can hold: no replica left unassigned (green), --shards primaries, stored with best_compression', { timeout: 300_000 }, async () => {
  await resetCluster();
  const run = espcap(['--dir', testPcaps, '--node', esUrl(), '--shards', '2', '--quiet', '--dead-letter', path.join(tempDir('dl'), 'dead.ndjson')]);
  assert.equal(run.status, 0, run.stderr);
  const health = await es('GET', '/_cluster/health/packets-*?wait_for_status=green&timeout=30s');
  assert.equal(health.status, 'green', JSON.stringify(health));
  assert.equal(health.unassigned_shards, 0);
  const settings = await es('GET', '/packets-*/_settings?filter_path=*.settings.index.number_of_shards,*.settings.index.number_of_replicas,*.settings.index.auto_expand_replicas,*.settings.index.codec');
  const indices = Object.values(settings) as { settings: { index: { number_of_shards: string; number_of_replicas: string; auto_expand_replicas: string; codec: string } } }[];
  assert.ok(indices.length >= 2);
  for (const { settings: s } of indices) {
    assert.equal(s.index.number_of_shards, '2');
    assert.equal(s.index.auto_expand_replicas, '0-1');
    assert.equal(s.index.number_of_replicas, '0', 'one node: no replica to leave unassigned');
    assert.equal(s.index.codec, 'best_compression', 'bench/results/storage.md: 0.6x the bytes of LZ4');
  }
});

test('a cluster at its shard limit: one line naming the cause and the way out, exit 1; with --index-period year the next run indexes every packet once', { timeout: 300_000 }, async (t) => {
  await resetCluster();
  const days = await expectedFor('day', 'packets');
  const years = new Map([...(await expectedFor('year', 'packets'))].sort());
  assert.ok(days.size > years.size, 'the shipped captures span more days than years');
  // Room for the resume state's index and one index per year: not for one per day.
  const limit = 1 + years.size;
  await es('PUT', '/_cluster/settings', { persistent: { 'cluster.max_shards_per_node': limit } });
  t.after(() => es('PUT', '/_cluster/settings', { persistent: { 'cluster.max_shards_per_node': null } }));
  const deadLetter = path.join(tempDir('dl'), 'dead.ndjson');
  const first = espcap(['--dir', testPcaps, '--node', esUrl(), '--quiet', '--dead-letter', deadLetter]);
  assert.equal(first.status, 1, first.stderr);
  const lines = first.stderr.trim().split('\n');
  assert.equal(lines.length, 1, first.stderr);
  assert.match(
    lines[0],
    new RegExp(`^espcap: Elasticsearch refuses to create index packets-\\d{4}-\\d\\d-\\d\\d: .* would pass its limit of ${limit} .*--index-period week, month or year.*cluster\\.max_shards_per_node`),
  );
  // Nothing is recorded as finished that is not all there; the indices made so far are removed, as the line suggests.
  const state = await es('POST', '/espcap-ingest-state/_search', { size: 100, query: { match: { status: 'done' } } });
  for (const hit of state.hits.hits) {
    const capture = hit._source.capture_id;
    const stored = await es('POST', '/packets-*/_count', { query: { term: { capture_id: capture } } });
    assert.ok(stored.count >= hit._source.packets, `${hit._source.path} recorded finished with its packets there`);
  }
  for (const index of (await countsOf('packets-*')).keys()) await es('DELETE', `/${index}`);
  const again = espcap(['--dir', testPcaps, '--node', esUrl(), '--index-period', 'year', '--dead-letter', deadLetter]);
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual(await countsOf('packets-*'), years);
  assert.equal((await es('GET', '/_cluster/health?wait_for_status=green&timeout=30s')).status, 'green');
});

/** The fields an index's mapping counts against index.mapping.total_fields.limit: every property, objects included. */
function mappedFieldCount(properties: Record<string, { properties?: Record<string, unknown> }>): number {
  return Object.values(properties).reduce((n, p) => n + 1 + (p.properties ? mappedFieldCount(p.properties as never) : 0), 0);
}

test('an index at its field limit: one warning naming the limit and the way out, every document indexed whole, exit 0; the fields it lacks counted in the summary', { timeout: 300_000 }, async () => {
  await resetCluster();
  const dl = path.join(tempDir('dl'), 'dead.ndjson');
  // The template first, with the layer fields of one packet (GTP over IPv6).
  assert.equal(espcap(['--file', path.join(testPcaps, 'ipv6-gtp6.pcap'), '--node', esUrl(), '--quiet', '--dead-letter', dl]).status, 0);
  const [seeded] = await packetIndices();
  const born = mappedFieldCount((await es('GET', `/${seeded}/_mapping`))[seeded].mappings.properties);
  // An index for test_dns.pcap's day with room for five fields more than the template gives it, as a cluster's own rules might set.
  const dns = path.join(testPcaps, 'test_dns.pcap');
  const [[index, packets]] = [...(await tsharkCountsPerIndex([dns]))];
  const limit = born + 5;
  await es('PUT', `/${index}`, { settings: { 'index.mapping.total_fields.limit': limit } });
  const run = espcap(['--file', dns, '--node', esUrl(), '--dead-letter', dl]);
  assert.equal(run.status, 0, run.stderr);
  const warnings = run.stderr.split('\n').filter((l) => l.includes('warning'));
  assert.deepEqual(warnings, [
    `espcap: warning: ${index} is at its limit of ${limit} fields (index.mapping.total_fields.limit): the fields it lacks are kept in _source but not searchable; ` +
      `raise the limit for the documents to come (PUT /${index}/_settings {"index.mapping.total_fields.limit": 8500})`,
  ]);
  const unmapped = Number(/(\d+) fields beyond the per-index budget or an index's field limit are kept in _source but not searchable/.exec(run.stderr)?.[1]);
  assert.ok(unmapped > 5, run.stderr);
  const properties = (await es('GET', `/${index}/_mapping`))[index].mappings.properties;
  assert.equal(mappedFieldCount(properties), born, 'the update that passes the limit adds none of its fields');
  assert.equal(summary(run.stderr).indexed, packets);
  // Whole in _source, searchable by the fields mapped before, not by the others.
  const first = (await es('POST', `/${index}/_search`, { size: 1, query: { term: { frame_number: 1 } } })).hits.hits[0]._source;
  const lacking = Object.entries(first.layers as Record<string, Record<string, unknown>>)
    .flatMap(([layer, fields]) => Object.keys(fields).map((key) => [layer, key]))
    .filter(([layer, key]) => !properties.layers.properties?.[layer]?.properties?.[key]);
  assert.ok(lacking.length > 0, 'the first packet has fields the index lacks');
  assert.equal((await es('POST', `/${index}/_count`, { query: { exists: { field: 'source.ip' } } })).count, packets);
  assert.equal((await es('POST', `/${index}/_count`, { query: { exists: { field: `layers.${lacking[0][0]}.${lacking[0][1]}` } } })).count, 0);
});

test('the per-index field budget reached with real captures: exactly the budget mapped, every field past it counted in the summary, every document indexed whole', { timeout: 300_000 }, async () => {
  await resetCluster();
  // The budget is 8,000 (more fields than the whole corpus holds); a test budget of 40 is reached by two captures.
  const budget = 40;
  const files = ['test_http.pcap', 'dns-binds.pcap'].map((f) => path.join(testPcaps, f));
  const printed = espcap([...files.flatMap((f) => ['--file', f]), '--output', '-', '--quiet']);
  assert.equal(printed.status, 0, printed.stderr);
  const written = new Set<string>();
  for (const doc of parseNdjson(printed.stdout))
    for (const [layer, value] of Object.entries(doc.layers as Record<string, object>))
      for (const occurrence of [value].flat()) for (const key of Object.keys(occurrence)) written.add(`${layer}.${key}`);
  assert.ok(written.size > budget + 50, `${written.size} fields`);

  const run = espcap([...files.flatMap((f) => ['--file', f]), '--node', esUrl(), '--workers', '1', '--test-field-budget', String(budget), '--dead-letter', path.join(tempDir('dl'), 'dead.ndjson')]);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, new RegExp(`^espcap: ${written.size - budget} fields beyond the per-index budget or an index's field limit are kept in _source but not searchable$`, 'm'));
  const expected = await tsharkCountsPerIndex(files);
  assert.equal(summary(run.stderr).indexed, [...expected.values()].reduce((a, b) => a + b, 0));
  const mapped = new Set<string>();
  for (const index of expected.keys()) {
    const layers = (await es('GET', `/${index}/_mapping`))[index].mappings.properties.layers.properties as Record<string, { properties: Record<string, unknown> }>;
    const fields = Object.entries(layers).flatMap(([layer, { properties }]) => Object.keys(properties).map((key) => `${layer}.${key}`));
    assert.ok(fields.length <= budget, `${index} maps ${fields.length} layer fields`);
    for (const f of fields) mapped.add(f);
  }
  assert.equal(mapped.size, budget);
  for (const f of mapped) assert.ok(written.has(f), f);
  // A field past the budget: in _source, not searchable.
  const past = [...written].find((f) => !mapped.has(f))!;
  const [layer, key] = past.split('.');
  const holder = parseNdjson(printed.stdout).find((d) => [d.layers[layer]].flat().some((o: Record<string, unknown>) => o && key in o))!;
  const stored = (await es('POST', '/packets-*/_search', { query: { bool: { filter: [{ term: { capture_id: holder.capture_id } }, { term: { frame_number: holder.frame_number } }] } } })).hits.hits;
  assert.equal(stored.length, 1);
  assert.deepEqual(stored[0]._source.layers[layer], holder.layers[layer]);
  assert.equal((await es('POST', '/packets-*/_count', { query: { exists: { field: `layers.${past}` } } })).count, 0);
});

/** An archive over `days` UTC days: copies of test_dns.pcap, the i-th moved i days later (editcap -t). */
function archiveOverDays(days: number): string {
  const dir = tempDir('years');
  const source = path.join(testPcaps, 'test_dns.pcap');
  for (let i = 0; i < days; i++) execFileSync('editcap', ['-t', String(i * 86400), source, path.join(dir, `dns-${String(i).padStart(4, '0')}.pcap`)]);
  return dir;
}

test('an archive over 610 days with default flags: every packet in its day, one index a day, the cluster green; by month and by week too', { timeout: 900_000 }, async () => {
  const days = 610;
  const dir = archiveOverDays(days);
  // tshark's days for the original; every copy is the same packets, whole days later.
  const original = await tsharkCountsPerIndex([path.join(testPcaps, 'test_dns.pcap')]);
  const perDay = new Map<string, number>();
  for (const [index, n] of original)
    for (let i = 0; i < days; i++) {
      const day = new Date(Date.parse(index.slice('packets-'.length) + 'T00:00:00Z') + i * 86400000).toISOString().slice(0, 10);
      perDay.set(day, (perDay.get(day) ?? 0) + n);
    }
  for (const period of ['day', 'month', 'week'] as const) {
    await resetCluster();
    const run = espcap(['--dir', dir, '--node', esUrl(), '--dead-letter', path.join(tempDir('dl'), 'dead.ndjson'), ...(period === 'day' ? [] : ['--index-period', period])]);
    assert.equal(run.status, 0, run.stderr);
    const expected = new Map<string, number>();
    for (const [day, n] of perDay) {
      const index = period === 'week' ? `packets-${isoWeek(day)}` : indexName({ prefix: 'packets', period }, day);
      expected.set(index, (expected.get(index) ?? 0) + n);
    }
    if (period === 'day') assert.ok(expected.size >= days, `${expected.size} daily indices`);
    assert.deepEqual(await countsOf('packets-*'), new Map([...expected].sort()), period);
    const health = await es('GET', '/_cluster/health?wait_for_status=green&timeout=60s');
    assert.equal(health.status, 'green', `${period}: ${JSON.stringify(health)}`);
    assert.equal(summary(run.stderr).indexed, 108 * days);
  }
  await resetCluster();
});
