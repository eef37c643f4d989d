// The engine's field registry: every Wireshark field with its type, name and
// the keys documents use for it.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { fieldRegistry } from '../src/engine/engine';
import { testPcaps } from './support/paths';
import { espcap, parseNdjson } from './support/programs';

test('the field registry has every field with its type, name and document keys', async () => {
  const registry = await fieldRegistry();
  assert.ok(registry.length > 100000, `${registry.length} fields`);
  const byAbbrev = new Map(registry.map((f) => [f.abbrev, f]));
  assert.deepEqual(byAbbrev.get('ip.src'), { layer: 'ip', key: 'src', abbrev: 'ip.src', type: 'FT_IPv4', name: 'Source Address' });
  assert.equal(byAbbrev.get('tcp.flags.syn')?.type, 'FT_BOOLEAN');
  assert.equal(byAbbrev.get('tcp.flags.syn')?.key, 'flags_syn');
  assert.equal(byAbbrev.get('dns.qry.name')?.key, 'qry_name');
  assert.equal(byAbbrev.get('frame.time')?.type, 'FT_ABSOLUTE_TIME');
  assert.equal(byAbbrev.get('_ws.malformed')?.layer, 'ws_malformed');

  // The path rule's own examples: the protocol the abbreviation names, whatever registered it.
  assert.equal(byAbbrev.get('_ws.expert.message')?.layer, 'ws_expert');
  assert.equal(byAbbrev.get('_ws.expert.message')?.key, 'message');
  assert.deepEqual([byAbbrev.get('tcp.options.nop')?.layer, byAbbrev.get('tcp.options.nop')?.key], ['tcp', 'options_nop']);
  assert.equal(byAbbrev.get('tcp')?.key, '');

  // Every key of a real document is a registered field's path, layers.<layer>.<key>.
  const paths = new Set(registry.map((f) => `${f.layer}.${f.key}`));
  const run = espcap(['--file', path.join(testPcaps, 'test_http.pcap'), '--output', '-', '--quiet']);
  assert.equal(run.status, 0, run.stderr);
  const docs = parseNdjson(run.stdout);
  assert.ok(docs.length > 0);
  for (const doc of docs)
    for (const [layer, value] of Object.entries(doc.layers as Record<string, object>))
      for (const occurrence of Array.isArray(value) ? value : [value])
        for (const key of Object.keys(occurrence)) assert.ok(paths.has(`${layer}.${key}`), `${layer}.${key}`);
});
