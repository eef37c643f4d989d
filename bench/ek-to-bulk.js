#!/usr/bin/env node
// Reads `tshark -T ek` output on stdin and sends it to Elasticsearch's _bulk,
// N documents per request, as a user of tshark would. Removes the `_type` that
// tshark 4.0 still writes (Elasticsearch 8 refuses it) and renames its
// packets-* indices to tshark-packets-* so they do not mix with espcap's.
// Prints one JSON line: {"docs":N,"accepted":N,"rejected":N,"firstError":"..."}.
'use strict';
const readline = require('node:readline');

const [url, chunkArg] = process.argv.slice(2);
const chunk = Number(chunkArg || 1000);
let lines = [];
let docs = 0, accepted = 0, rejected = 0, firstError;

async function flush() {
  if (!lines.length) return;
  const body = lines.join('\n') + '\n';
  lines = [];
  const res = await fetch(`${url}/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
  const out = await res.json();
  if (!out.items) throw new Error(`bulk failed: ${JSON.stringify(out).slice(0, 300)}`);
  for (const item of out.items) {
    const r = Object.values(item)[0];
    if (r.status < 300) accepted++;
    else {
      rejected++;
      firstError ??= `${r.error.type}: ${r.error.reason}`.slice(0, 200);
    }
  }
}

(async () => {
  const input = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of input) {
    if (!line) continue;
    if (line.startsWith('{"index"')) {
      const action = JSON.parse(line);
      delete action.index._type;
      action.index._index = 'tshark-' + action.index._index;
      lines.push(JSON.stringify(action));
    } else {
      lines.push(line);
      if (++docs % chunk === 0) await flush();
    }
  }
  await flush();
  console.log(JSON.stringify({ docs, accepted, rejected, firstError }));
})().catch((err) => {
  console.error(`ek-to-bulk: ${err.message}`);
  process.exit(1);
});
