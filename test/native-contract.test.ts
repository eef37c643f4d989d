// The contracts between the C++ addon and TypeScript, held against each other
// and against real output: the error codes (native/error_code.h and
// native/addon.d.ts), the hard checks on options (native/js_options.h), and
// the document (native/document_contract.h, src/document.ts,
// src/elasticsearch/mapping.ts).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { documentContract, fieldRegistry, initEngine, loadAddon } from '../src/engine/engine';
import { CAPTURE_FIELDS } from '../src/document';
import { FT_ES_TYPES, indexTemplate } from '../src/elasticsearch/mapping';
import { repoRoot, tempDir, testPcaps } from './support/paths';
import { Doc, espcap, parseNdjson } from './support/programs';

const dnsPcap = path.join(testPcaps, 'test_dns.pcap');

test('error codes: the addon gives exactly the codes native/addon.d.ts declares', () => {
  const declaration = fs.readFileSync(path.join(repoRoot, 'native', 'addon.d.ts'), 'utf8');
  const union = /export type NativeErrorCode =([^;]*);/.exec(declaration);
  assert.ok(union, 'NativeErrorCode in addon.d.ts');
  const declared = [...union[1].matchAll(/'([A-Z_]+)'/g)].map((m) => m[1]);
  assert.ok(declared.length >= 10, declared.join());
  assert.deepEqual([...loadAddon().errorCodes()].sort(), [...declared].sort());
});

test('an option missing, mistyped, out of range or unknown is refused with INVALID_ARGUMENT, never defaulted', async () => {
  await initEngine();
  const addon = loadAddon();
  // A live capture from a file (the benchmark source), never started: no privilege needed.
  const liveSource = () =>
    addon.openLive({ interface: 'test0', sourceFile: dnsPcap, snaplen: 65535, promisc: false, bufferBytes: 1 << 20, queueBytes: 1 << 20, maxPackets: 0 });
  const good = {
    path: dnsPcap,
    maxBytes: 64,
    sessionPackets: 0,
    skipRecords: 0,
    batchSize: 512,
    readAhead: 4,
    maxPackets: 0,
    dissectOnly: false,
    documentFields: '',
  };
  // The complete set works: every packet of the capture.
  const reader = await addon.open(good);
  let packets = 0;
  for (let batch = await reader.next(); batch; batch = await reader.next()) packets += batch.count;
  reader.close();
  assert.equal(packets, 108);

  const { maxBytes, ...withoutMaxBytes } = good;
  assert.equal(maxBytes, 64);
  const refused: [string, () => unknown, RegExp][] = [
    ['a required option left out', () => addon.open(withoutMaxBytes as typeof good), /^open\(\): option "maxBytes" is required$/],
    ['a number given as a string', () => addon.open({ ...good, maxBytes: '64' as unknown as number }), /^open\(\): option "maxBytes" must be a whole number from 0 to 4294967295, got "64"$/],
    ['a number below its range', () => addon.open({ ...good, batchSize: 0 }), /^open\(\): option "batchSize" must be a whole number from 1 to 1048576, got 0$/],
    ['a fraction', () => addon.open({ ...good, skipRecords: 1.5 }), /^open\(\): option "skipRecords" must be a whole number from 0 to 9007199254740991, got 1.5$/],
    ['a boolean given as a number', () => addon.open({ ...good, dissectOnly: 1 as unknown as boolean }), /^open\(\): option "dissectOnly" must be true or false, got 1$/],
    ['an unknown option', () => addon.open({ ...good, batchsize: 10 } as typeof good), /^open\(\): unknown option "batchsize"$/],
    ['no options object', () => (addon.open as (o?: unknown) => unknown)(), /^open\(\): needs an options object$/],
    ['init without its configuration directory', () => addon.init({} as { configDir: string }), /^init\(\): option "configDir" is required$/],
    ['live capture without a snaplen', () => addon.openLive({ interface: 'lo', promisc: false, bufferBytes: 1 << 20, queueBytes: 1 << 20, maxPackets: 0 } as never), /^openLive\(\): option "snaplen" is required$/],
    ['a file descriptor that is not one', () => addon.closeFd(-1), /^closeFd\(\): needs a file descriptor$/],
    ['a live capture started without streams', () => liveSource().start([]), /^start\(\): needs a stream for each of 1 to 1024 workers, once$/],
    ['a stream without its frame notes', () => liveSource().start([{ records: 1 } as never]), /^start\(\): needs a file descriptor as frames$/],
    ['a switch to a worker that is not there', () => liveSource().switchTo(1, { records: 1, frames: 2 }), /^switchTo\(\): needs a worker index$/],
  ];
  for (const [what, call, message] of refused) {
    assert.throws(
      call,
      (err: Error & { code?: string }) => err instanceof TypeError && err.code === 'INVALID_ARGUMENT' && message.test(err.message),
      what,
    );
  }
});

test('a capture problem rejects with its code from the declared list', async () => {
  await initEngine();
  const addon = loadAddon();
  const options = { maxBytes: 64, sessionPackets: 0, skipRecords: 0, batchSize: 512, readAhead: 4, maxPackets: 0, dissectOnly: false, documentFields: '' };
  await assert.rejects(addon.open({ ...options, path: '/nonexistent/x.pcap' }), { code: 'ENOENT' });
  await assert.rejects(addon.open({ ...options, path: dnsPcap, filter: 'dns.qry.name ===' }), { code: 'BAD_FILTER' });
  const junk = path.join(tempDir('junk'), 'junk.bin');
  fs.writeFileSync(junk, Buffer.alloc(4096, 0x55));
  await assert.rejects(addon.open({ ...options, path: junk }), { code: 'UNKNOWN_FORMAT' });
});

/** The Elasticsearch types that hold each kind of value the engine writes. */
const FITS: Record<string, string[]> = {
  present: ['boolean'],
  boolean: ['boolean'],
  uint32: ['integer', 'long'],
  int32: ['integer'],
  uint64: ['unsigned_long', 'long'], // long for the types of up to 56 bits
  int64: ['long'],
  float: ['double'],
  'iso-time': ['date'],
  seconds: ['double'],
  text: ['keyword'],
  hex: ['keyword'],
  mac: ['keyword'],
  ipv4: ['ip'],
  ipv6: ['ip'],
  display: ['keyword'],
};

test('every Wireshark field type has an Elasticsearch type that holds the values the engine writes for it', async () => {
  const { valueKinds } = await documentContract();
  assert.ok(Object.keys(valueKinds).length >= 40, Object.keys(valueKinds).join());
  assert.deepEqual(Object.keys(FT_ES_TYPES).sort(), Object.keys(valueKinds).sort());
  for (const [ftype, kind] of Object.entries(valueKinds)) {
    assert.ok(FITS[kind], `${ftype}: unknown kind ${kind}`);
    assert.ok(FITS[kind].includes(FT_ES_TYPES[ftype]), `${ftype} is written as ${kind}, mapped as ${FT_ES_TYPES[ftype]}`);
  }
  // And every type a registered field has is among them.
  const used = new Set((await fieldRegistry()).map((f) => f.type));
  assert.ok(used.size >= 30, [...used].join());
  for (const type of used) assert.ok(type in valueKinds && type in FT_ES_TYPES, type);
});

test('the engine and TypeScript together write exactly the top-level fields the index template maps', async () => {
  const { packetFields } = await documentContract();
  const written = [...packetFields.map((f) => f.name), ...CAPTURE_FIELDS.map((f) => f.name)];
  assert.equal(new Set(written).size, written.length, 'no field from both sides');
  const mapped = Object.keys((indexTemplate() as { template: { mappings: { properties: object } } }).template.mappings.properties);
  assert.deepEqual([...written].sort(), [...mapped].sort());
});

/** Whether a JSON value is what the engine says it writes for a kind. */
function fits(kind: string, v: unknown): boolean {
  const isInt = (x: unknown) => typeof x === 'number' && Number.isInteger(x);
  const isDigits = (x: unknown) => typeof x === 'string' && /^-?\d+$/.test(x);
  switch (kind) {
    case 'present':
      return v === true;
    case 'boolean':
      return typeof v === 'boolean';
    case 'uint32':
      return isInt(v) && (v as number) >= 0 && (v as number) <= 0xffffffff;
    case 'int32':
      return isInt(v) && Math.abs(v as number) <= 0x80000000;
    case 'uint64':
    case 'int64':
      return isInt(v) || isDigits(v);
    case 'float':
    case 'seconds':
      return typeof v === 'number';
    case 'iso-time':
      return typeof v === 'string' && /^-?\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/.test(v);
    case 'hex':
      return typeof v === 'string' && /^([0-9a-f]{2})*$/.test(v);
    case 'mac':
      return typeof v === 'string' && /^[0-9a-f]{2}(:[0-9a-f]{2})*$/.test(v);
    case 'ipv4':
      return typeof v === 'string' && /^\d+\.\d+\.\d+\.\d+$/.test(v);
    case 'ipv6':
      return typeof v === 'string' && v.includes(':');
    default:
      return typeof v === 'string';
  }
}

function fitsJson(json: string, v: unknown): boolean {
  switch (json) {
    case 'iso-time':
      return typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/.test(v);
    case 'iso-seconds':
      return typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(v);
    case 'epoch-millis':
    case 'number':
      return typeof v === 'number';
    case 'string':
      return typeof v === 'string';
    case 'strings':
      return Array.isArray(v) && v.every((s) => typeof s === 'string');
    default:
      return typeof v === 'object' && v !== null && !Array.isArray(v);
  }
}

test('real documents keep the contract: their top-level fields, and every layer value as its Wireshark type says', async () => {
  const { packetFields, valueKinds } = await documentContract();
  const run = espcap(['--dir', testPcaps, '--output', '-', '--quiet', '--max-bytes', '0']);
  assert.equal(run.status, 0, run.stderr);
  const docs: Doc[] = parseNdjson(run.stdout);
  assert.ok(docs.length > 1500, `${docs.length} documents`);

  const top = new Map<string, { json: string; always: boolean }>(packetFields.map((f) => [f.name, f]));
  for (const f of CAPTURE_FIELDS) top.set(f.name, { json: f.json, always: f.capture !== 'live' });
  for (const doc of docs) {
    for (const [name, value] of Object.entries(doc)) {
      const field = top.get(name);
      assert.ok(field, `frame ${doc.frame_number}: top-level field ${name} is in no contract`);
      assert.ok(fitsJson(field.json, value), `${name}: ${JSON.stringify(value)} is not ${field.json}`);
    }
    for (const [name, field] of top) if (field.always) assert.ok(name in doc, `frame ${doc.frame_number} of ${doc.file_name} has no ${name}`);
  }

  // Layer values: each path's registered types.
  const typesByKey = new Map<string, Set<string>>();
  const add = (key: string, type: string) => (typesByKey.get(key) ?? typesByKey.set(key, new Set()).get(key)!).add(type);
  for (const f of await fieldRegistry()) add(`${f.layer}.${f.key}`, f.type);
  let checked = 0;
  let unknown = 0;
  const wrong: string[] = [];
  for (const doc of docs)
    for (const [layer, value] of Object.entries(doc.layers as Record<string, object>))
      for (const occurrence of Array.isArray(value) ? value : [value])
        for (const [key, v] of Object.entries(occurrence as Record<string, unknown>)) {
          const types = typesByKey.get(`${layer}.${key}`);
          if (!types) {
            unknown++;
            continue;
          }
          for (const one of Array.isArray(v) ? v : [v]) {
            checked++;
            if (![...types].some((t) => fits(valueKinds[t], one))) wrong.push(`${layer}.${key} (${[...types]}): ${JSON.stringify(one)}`);
          }
        }
  assert.deepEqual(wrong.slice(0, 10), []);
  assert.ok(checked > 100000, `${checked} values checked`);
  assert.equal(unknown, 0, 'every key is a registered field');
});
