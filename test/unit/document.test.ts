// src/document.ts on batches made here, as the engine lays them out (one
// ASCII line per packet, offsets to its parts, numbers per packet): reading
// the parts, the capture-wide fields, and the buffer of action line +
// document pairs the Elasticsearch output sends, sized from what it holds,
// including index names of the longest prefix --index-prefix takes.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { BatchView, CAPTURE_FIELDS, captureFields, DocumentBuilder } from '../../src/document';
import { Meta, META_FIELDS, PacketBatch, SPANS } from '../../src/engine/engine';
import { MAX_INDEX_PREFIX } from '../../src/cli/args';
import { indexName, IndexPeriod } from '../../src/elasticsearch/mapping';

interface Packet {
  timestamp: string;
  frame: number;
  layers: string;
  protocol: string;
}

/** One document line per packet, laid out as the engine writes a batch. */
function line(p: Packet): string {
  return `{"@timestamp":"${p.timestamp}","frame_number":${p.frame},"layers":${p.layers},"protocol":"${p.protocol}","network":{"type":"ipv4"}}\n`;
}

function batchOf(packets: Packet[]): PacketBatch {
  let text = '';
  const offsets: number[] = [];
  const meta: number[] = [];
  for (const p of packets) {
    const l = line(p);
    const head = text.length;
    const layers = head + l.indexOf('"layers":') + '"layers":'.length;
    // Head, Timestamp, Layers, Tail, Protocol (src/engine/engine.ts: Span).
    offsets.push(head, head + '{"@timestamp":"'.length, layers, layers + p.layers.length, head + l.indexOf('"protocol":"') + '"protocol":"'.length);
    const ms = Date.parse(p.timestamp);
    // FrameNumber, Seconds, Nanoseconds, CapturedLength, OriginalLength, InterfaceId.
    meta.push(p.frame, Math.floor(ms / 1000), Number(p.timestamp.slice(20, 29)), 60, 1514, -1);
    text += l;
  }
  offsets.push(text.length);
  assert.equal(offsets.length, SPANS * packets.length + 1);
  assert.equal(meta.length, META_FIELDS * packets.length);
  return { count: packets.length, text: Buffer.from(text, 'latin1'), offsets: Uint32Array.from(offsets), meta: Float64Array.from(meta), newFields: '' };
}

const PACKETS: Packet[] = [
  { timestamp: '2015-07-30T23:59:59.999999999Z', frame: 1, layers: '{"ip":{"src":"10.0.0.4"},"tcp":{"srcport":59803}}', protocol: 'tcp' },
  { timestamp: '2015-07-31T00:00:00.000000001Z', frame: 2, layers: '{}', protocol: 'eth' },
  { timestamp: '2016-01-01T05:22:10.468623000Z', frame: 1000000, layers: '{"dns":{"qry_name":["a\\"b","c"]}}', protocol: 'dns' },
];

test('BatchView reads each packet: timestamp, day, protocol, layers, its line, its numbers', () => {
  const view = new BatchView(batchOf(PACKETS));
  assert.equal(view.count, 3);
  const text = view.batch.text.toString('latin1');
  PACKETS.forEach((p, i) => {
    assert.equal(view.timestamp(i), p.timestamp);
    assert.equal(view.day(i), p.timestamp.slice(0, 10));
    assert.equal(view.protocol(i), p.protocol);
    assert.equal(view.layersJson(i), p.layers);
    assert.equal(text.slice(view.lineStart(i), view.lineEnd(i)), line(p));
    assert.equal(view.meta(i, Meta.FrameNumber), p.frame);
    assert.equal(view.meta(i, Meta.OriginalLength), 1514);
  });
  assert.deepEqual(
    [0, 1, 2].map((i) => view.meta(i, Meta.Nanoseconds)),
    [999999999, 1, 468623000],
  );
  assert.equal(view.lineEnd(2), view.batch.text.length, 'the last line ends where the text does');
});

test('captureFields: the fields CAPTURE_FIELDS lists for a file capture, in order, as pure ASCII JSON', () => {
  const fields = captureFields({ capture: 'file', id: '5a1c3bd9e07a4ac3fd27', fileName: '/data/dns — résolveur "1"\\x.pcap', fileDate: new Date(Date.UTC(2024, 4, 1, 10, 0, 0, 999)) });
  assert.equal(
    fields,
    String.raw`,"capture":"file","capture_id":"5a1c3bd9e07a4ac3fd27","file_name":"/data/dns \u2014 r\u00e9solveur \"1\"\\x.pcap","file_date_utc":"2024-05-01T10:00:00"`,
  );
  assert.match(fields, /^[\x20-\x7e]*$/);
  const doc = JSON.parse(`{${fields.slice(1)}}`);
  assert.equal(doc.file_name, '/data/dns — résolveur "1"\\x.pcap');
  assert.deepEqual(Object.keys(doc), CAPTURE_FIELDS.filter((f) => f.capture !== 'live').map((f) => f.name));
  // Characters outside the Basic Multilingual Plane: both halves escaped.
  assert.equal(captureFields({ capture: 'file', fileName: '日本🦈' }), String.raw`,"capture":"file","file_name":"\u65e5\u672c\ud83e\udd88"`);
  // Control characters and DEL, escaped too.
  assert.equal(captureFields({ capture: 'file', fileName: 'a\x7fb\tc\u0001' }), String.raw`,"capture":"file","file_name":"a\u007fb\tc\u0001"`);
  // Nothing known but the kind: the name is empty, the rest left out.
  assert.equal(captureFields({ capture: 'file' }), ',"capture":"file","file_name":""');
});

test('captureFields: a live capture names its interface, not a file', () => {
  const fields = captureFields({ capture: 'live', id: 'run-1', interfaceName: 'eth0', fileName: 'ignored' });
  assert.equal(fields, ',"capture":"live","capture_id":"run-1","interface_name":"eth0"');
  assert.deepEqual(Object.keys(JSON.parse(`{${fields.slice(1)}}`)), CAPTURE_FIELDS.filter((f) => f.capture !== 'file').map((f) => f.name));
  assert.equal(captureFields({ capture: 'live', interfaceName: 'wlan\u00e40' }), String.raw`,"capture":"live","interface_name":"wlan\u00e40"`);
});

test('DocumentBuilder.ndjson: the batch text itself, not a copy', () => {
  const batch = batchOf(PACKETS);
  const builder = new DocumentBuilder({ capture: 'file', id: 'x' });
  assert.equal(builder.ndjson(new BatchView(batch)), batch.text);
});

/** The action line the Elasticsearch output puts before each document (elasticsearch/bulk-sink.ts). */
const actionLine = (index: string, id: string) => `{"create":{"_index":"${index}","_id":"${id}"}}\n`;

test('withLines: each action line, then its document; starts[i] where pair i begins, starts[count] the end', () => {
  const view = new BatchView(batchOf(PACKETS));
  const lines = ['{"index":{}}\n', `${'x'.repeat(5000)}\n`, '\n'];
  const { bytes, starts } = new DocumentBuilder({ capture: 'file', id: 'c' }).withLines(view, (i) => lines[i]);
  const pairs = PACKETS.map((p, i) => lines[i] + line(p));
  assert.equal(bytes.toString('latin1'), pairs.join(''));
  assert.equal(bytes.length, pairs.join('').length, 'no byte more than the pairs hold');
  assert.deepEqual(starts, [0, pairs[0].length, pairs[0].length + pairs[1].length, pairs.join('').length]);
  for (let i = 0; i < 3; i++) assert.equal(bytes.subarray(starts[i], starts[i + 1]).toString('latin1'), pairs[i]);
});

test('withLines with action lines naming indices of the longest prefix: every byte of each name is there', () => {
  const prefix = 'p'.repeat(MAX_INDEX_PREFIX);
  const captureId = '5a1c3bd9e07a4ac3fd27';
  const view = new BatchView(batchOf(PACKETS));
  for (const period of ['day', 'week', 'month', 'year'] as IndexPeriod[]) {
    const indices = PACKETS.map((_, i) => indexName({ prefix, period }, view.day(i)));
    if (period === 'day') assert.deepEqual(indices.map((n) => n.length), [255, 255, 255], 'a day index of the longest prefix is as long as Elasticsearch allows');
    for (const name of indices) assert.ok(name.length <= 255, `${name.length}: ${name.slice(MAX_INDEX_PREFIX)}`);
    const { bytes, starts } = new DocumentBuilder({ capture: 'file', id: captureId }).withLines(view, (i) => actionLine(indices[i], `${captureId}-${view.meta(i, Meta.FrameNumber)}`));
    const expected = PACKETS.map((p, i) => actionLine(indices[i], `${captureId}-${p.frame}`) + line(p));
    assert.equal(bytes.length, expected.join('').length, period);
    assert.equal(bytes.toString('latin1'), expected.join(''), period);
    assert.equal(starts.at(-1), bytes.length);
    // Each pair is two JSON lines: the action names the whole index, the document follows whole.
    PACKETS.forEach((p, i) => {
      const [action, document, rest] = bytes.subarray(starts[i], starts[i + 1]).toString('latin1').split('\n');
      assert.deepEqual(JSON.parse(action), { create: { _index: indices[i], _id: `${captureId}-${p.frame}` } });
      assert.equal(JSON.parse(document).frame_number, p.frame);
      assert.equal(rest, '');
    });
  }
  assert.equal(indexName({ prefix, period: 'day' }, '2015-07-30'), `${prefix}-2015-07-30`);
  assert.equal(indexName({ prefix, period: 'week' }, '2015-07-30'), `${prefix}-2015-w31`);
  assert.equal(indexName({ prefix, period: 'month' }, '2015-07-30'), `${prefix}-2015-07`);
  assert.equal(indexName({ prefix, period: 'year' }, '2015-07-30'), `${prefix}-2015`);
});

test('withLines of an empty batch: no bytes, one start', () => {
  const { bytes, starts } = new DocumentBuilder({ capture: 'live' }).withLines(new BatchView(batchOf([])), () => assert.fail('no packet, no line'));
  assert.equal(bytes.length, 0);
  assert.deepEqual(starts, [0]);
});
