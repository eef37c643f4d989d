#!/usr/bin/env node
// Reads `tshark -T ek` output on stdin and sends it to Elasticsearch's _bulk,
// N documents per request, as a user of tshark would. Removes the `_type` that
// tshark 4.0 still writes (Elasticsearch 8 refuses it) and renames its
// packets-* indices to tshark-packets-* so they do not mix with espcap's.
// tshark writes some keys twice in one object (eth_eth_addr, ...), and
// Elasticsearch refuses such documents: as a user must, each document is
// parsed and written again, which keeps the last value of a repeated key.
// Installs a template raising the field limit for tshark-packets-*.
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
  // Dynamic mapping of tshark's field names passes Elasticsearch's default
  // limit of 1,000 fields per index on varied traffic: raised, as a user must.
  const template = { index_patterns: ['tshark-packets-*'], priority: 100, template: { settings: { 'index.mapping.total_fields.limit': 50000 } } };
  const put = await fetch(`${url}/_index_template/tshark-packets`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(template) });
  if (!put.ok) throw new Error(`cannot install the tshark-packets template: ${(await put.text()).slice(0, 300)}`);
  const input = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of input) {
    if (!line) continue;
    if (line.startsWith('{"index"')) {
      const action = JSON.parse(line);
      delete action.index._type;
      action.index._index = 'tshark-' + action.index._index;
      lines.push(JSON.stringify(action));
    } else {
      lines.push(JSON.stringify(JSON.parse(line)));
      if (++docs % chunk === 0) await flush();
    }
  }
  await flush();
  console.log(JSON.stringify({ docs, accepted, rejected, firstError }));
})().catch((err) => {
  console.error(`ek-to-bulk: ${err.message}`);
  process.exit(1);
});
