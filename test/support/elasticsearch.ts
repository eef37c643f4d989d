// The test cluster: started once per test run by test/run.ts (or an existing
// one given in ESPCAP_TEST_ES_URL), and small helpers to read it back.
import * as assert from 'node:assert/strict';
import { inParallel, tshark } from './programs';

export const esUrl = (): string => {
  const url = process.env.ESPCAP_TEST_ES_URL;
  if (!url) throw new Error('ESPCAP_TEST_ES_URL is not set: run the tests with npm test, which starts Elasticsearch');
  return url.replace(/\/$/, '');
};

/** A request to the test cluster (or to the cluster at `base`); 404 is an answer, other errors throw. */
export async function es(method: string, path: string, body?: unknown, base = esUrl()): Promise<any> {
  const response = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const parsed = text ? JSON.parse(text) : {};
  if (response.status >= 400 && response.status !== 404) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 300)}`);
  return parsed;
}

/** Names of the packets-* indices. */
export async function packetIndices(): Promise<string[]> {
  const rows = (await es('GET', '/_cat/indices/packets-*?format=json&h=index')) as { index: string }[];
  return rows.map((r) => r.index).sort();
}

/** Deletes every packets-* index, espcap's template and its resume state, leaving a clean cluster. */
export async function resetCluster(): Promise<void> {
  const indices = await packetIndices();
  await es('DELETE', '/espcap-ingest-state');
  // Wildcard deletes are refused by default; delete by name, in groups.
  for (let i = 0; i < indices.length; i += 50) await es('DELETE', '/' + indices.slice(i, i + 50).join(','));
  await es('DELETE', '/_index_template/espcap-packets');
}

/** Document counts per packets-* index, after a refresh. */
export async function countsPerIndex(): Promise<Map<string, number>> {
  await es('POST', '/packets-*/_refresh');
  const rows = (await es('GET', '/_cat/indices/packets-*?format=json&h=index,docs.count')) as { index: string; 'docs.count': string }[];
  return new Map(rows.map((r) => [r.index, Number(r['docs.count'])]));
}

export async function count(query: unknown, base = esUrl()): Promise<number> {
  await es('POST', '/packets-*/_refresh', undefined, base);
  return (await es('POST', '/packets-*/_count', { query }, base)).count;
}

/** Documents indexed so far (refreshing first: espcap's indices refresh only every 30 s), 0 while there is no index; an error throws. */
export async function indexedSoFar(base = esUrl()): Promise<number> {
  await es('POST', '/packets-*/_refresh', undefined, base);
  return (await es('GET', '/packets-*/_count', undefined, base)).count ?? 0;
}

/**
 * Expected documents per daily index, from the packet times tshark prints.
 * frame.time is read as its date-and-seconds text plus its fraction, which
 * tshark prints as the nanosecond field with %09d: for packets whose
 * nanosecond field is out of range (hostile captures) that is e.g.
 * "17:16:10.-2147483648", and the instant is those seconds plus that many
 * nanoseconds. A record without a time is at the epoch.
 */
export async function tsharkCountsPerIndex(files: string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  await inParallel(files, 2, async (file) => {
    const lines = (await tshark(['-r', file, '-T', 'fields', '-e', 'frame.time'])).split('\n');
    lines.pop(); // after the final newline
    for (const line of lines) {
      let millis = 0;
      // "Jul 30, 2015 05:22:10.468623000 UTC" up to 4.4; 4.6 writes ISO 8601, "2015-07-30T05:22:10.468623000+0000".
      const m = /^(.*\d\d:\d\d:\d\d)\.(-?\d+) UTC$/.exec(line) ?? /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(-?\d+)\+0000$/.exec(line);
      if (m) millis = Date.parse(m[1].includes('T') ? `${m[1]}Z` : `${m[1]} UTC`) + Number(m[2]) / 1e6;
      else assert.equal(line, '', `unexpected frame.time ${line}`);
      const day = new Date(Math.floor(millis)).toISOString().slice(0, 10);
      counts.set(`packets-${day}`, (counts.get(`packets-${day}`) ?? 0) + 1);
    }
  });
  return counts;
}


/** The summary numbers espcap printed. */
export function summary(stderr: string) {
  const m = /Elasticsearch: (\d+) packets read, (\d+) indexed, (\d+) duplicates .*?, (\d+) dead-lettered, (\d+) not sent; (\d+) retries/.exec(stderr);
  assert.ok(m, `no summary in:\n${stderr}`);
  const [read, indexed, duplicates, deadLettered, notSent, retries] = m.slice(1).map(Number);
  return { read, indexed, duplicates, deadLettered, notSent, retries };
}

/**
 * Waits until `n` documents are indexed; fails past `seconds` with what it saw
 * and the last error (an index just created answers 503 until its shard has
 * started: that is waited out, not taken for 0 documents).
 */
export async function waitForIndexed(n: number, seconds = 120, base = esUrl()): Promise<void> {
  const until = Date.now() + seconds * 1000;
  let seen = 0;
  let last = '';
  for (;;) {
    try {
      if ((seen = await indexedSoFar(base)) >= n) return;
    } catch (err) {
      last = `; last error: ${(err as Error).message}`;
    }
    assert.ok(Date.now() < until, `waited ${seconds} s for ${n} documents, ${seen} indexed${last}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
