#!/usr/bin/env node
// Compares two NDJSON outputs of espcap document for document (by capture_id
// and frame_number, whatever their order) and prints one line: how many are
// identical, and for those that differ, which fields differ. Exits 1 if a
// document is in one output only (or twice in one), 0 otherwise: documents
// that differ are reported, for the benchmark to show, not hidden.
//
//   node bench/compare-documents.js [--ignore PATH,...] A.ndjson B.ndjson
//
// --ignore leaves out fields (dotted paths, such as capture_id or
// layers.tcp.stream) before comparing: two live runs have capture ids of their
// own, so without capture_id documents are matched by frame number alone.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const readline = require('node:readline');

/** Paths left out of every document (--ignore). */
let ignored = [];

function withoutIgnored(doc) {
  for (const path of ignored) {
    const keys = path.split('.');
    let at = doc;
    for (const key of keys.slice(0, -1)) at = at?.[key];
    if (at && typeof at === 'object') delete at[keys[keys.length - 1]];
  }
  return doc;
}

/** Calls `each(key, line, offset)` for every document line of `file`. */
async function forEachLine(file, each) {
  let offset = 0;
  for await (const line of readline.createInterface({ input: fs.createReadStream(file, { encoding: 'latin1' }), crlfDelay: Infinity })) {
    if (line) {
      const doc = JSON.parse(line);
      const kept = ignored.length ? JSON.stringify(withoutIgnored(doc)) : line;
      each(`${doc.capture_id}#${doc.frame_number}`, kept, offset);
    }
    offset += line.length + 1;
  }
}

const digest = (line) => crypto.createHash('sha1').update(line, 'latin1').digest('latin1');

/** Dotted paths of the values that differ between two documents. */
function differingPaths(a, b, at = '', out = new Set()) {
  const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObject(a) && isObject(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) differingPaths(a[key], b[key], at ? `${at}.${key}` : key, out);
  } else if (JSON.stringify(a) !== JSON.stringify(b)) out.add(at);
  return out;
}

function lineAt(file, offset) {
  const fd = fs.openSync(file, 'r');
  try {
    let text = '';
    const buf = Buffer.alloc(1 << 16);
    for (let at = offset; !text.includes('\n'); at += buf.length) {
      const n = fs.readSync(fd, buf, 0, buf.length, at);
      if (n === 0) break;
      text += buf.toString('latin1', 0, n);
    }
    return text.slice(0, text.indexOf('\n') >>> 0);
  } finally {
    fs.closeSync(fd);
  }
}

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === '--ignore') ignored = args.splice(0, 2)[1].split(',');
  const [a, b] = args;
  if (!a || !b) throw new Error('usage: compare-documents.js [--ignore PATH,...] A.ndjson B.ndjson');
  const first = new Map();
  let twice = 0;
  await forEachLine(a, (key, line, offset) => {
    if (first.has(key)) twice++;
    first.set(key, { digest: digest(line), offset });
  });
  let identical = 0;
  let onlyInB = 0;
  const differing = [];
  await forEachLine(b, (key, line) => {
    const seen = first.get(key);
    if (!seen) return void onlyInB++;
    first.delete(key);
    if (seen.digest === digest(line)) identical++;
    else differing.push({ offset: seen.offset, line });
  });
  const fields = new Map();
  for (const { offset, line } of differing)
    for (const path of differingPaths(withoutIgnored(JSON.parse(lineAt(a, offset))), JSON.parse(line))) fields.set(path, (fields.get(path) ?? 0) + 1);
  const onlyInA = first.size;
  const shown = [...fields].map(([path, n]) => `${path} (${n})`).join(', ');
  console.log(
    `${identical} documents identical, ${differing.length} differing${differing.length ? ` only in ${shown}` : ''}; ${onlyInA} only in the first, ${onlyInB} only in the second${twice ? `, ${twice} twice in the first` : ''}`,
  );
  process.exitCode = onlyInA || onlyInB || twice ? 1 : 0;
}

main().catch((err) => {
  console.error(`compare-documents: ${err.message}`);
  process.exitCode = 1;
});
