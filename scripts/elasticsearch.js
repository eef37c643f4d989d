#!/usr/bin/env node
'use strict';
// Start and stop a local single-node Elasticsearch for espcap's tests and for
// a first try of espcap.
//
//   node scripts/elasticsearch.js start    fetch (first time), start, wait until healthy;
//                                          prints the URL as the last line of stdout
//   node scripts/elasticsearch.js stop     stop it (SIGTERM, up to 60 s, then SIGKILL)
//   node scripts/elasticsearch.js status   print the URL if it runs and is healthy
//
// The harness itself is TypeScript, test/cluster/ (its index.ts lists the
// environment variables it honours); this runs its compiled form in dist/,
// which `npm install` and `npm test` build. Required rather than run, this
// file gives the same API.
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const entry = path.join(root, 'dist', 'test', 'cluster', 'index.js');
if (!fs.existsSync(entry)) {
  const msg = `${path.relative(root, entry)} is missing: run \`npx tsc -p .\` in ${root} first`;
  if (require.main !== module) throw new Error(msg);
  process.stderr.write(`espcap-es: ${msg}\n`);
  process.exit(1);
}
const harness = require(entry);
module.exports = harness;

if (require.main === module) harness.main(process.argv.slice(2)).then((code) => process.exit(code));
