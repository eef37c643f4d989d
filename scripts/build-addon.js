#!/usr/bin/env node
// `npm install`: puts the addon at build/Release/espcap.node, from the prebuilt
// one when it links against the libwireshark installed here, else from source.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const target = path.join(root, 'build', 'Release', 'espcap.node');
const prebuiltDir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const prebuilt = path.join(prebuiltDir, 'espcap.node');

function buildFromSource() {
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const result = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', 'build'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error('espcap: building the native addon failed (see the cmake output above)');
    process.exit(1);
  }
}

/** Why the prebuilt addon cannot be used here, or null if it can. */
function prebuiltUnusable() {
  if (!fs.existsSync(prebuilt)) return 'there is no prebuilt addon for ' + `${process.platform}-${process.arch}`;
  let ldd;
  try {
    ldd = execFileSync('ldd', [prebuilt], { encoding: 'utf8' });
  } catch {
    return 'ldd cannot inspect the prebuilt addon';
  }
  const missing = ldd.split('\n').filter((l) => l.includes('not found')).map((l) => l.trim().split(' ')[0]);
  if (missing.length) {
    const built = fs.readFileSync(path.join(prebuiltDir, 'espcap.wireshark-version'), 'utf8').trim();
    return `the prebuilt addon was built for libwireshark ${built} and needs ${missing.join(', ')}, not installed here`;
  }
  return null;
}

function install() {
  const why = prebuiltUnusable();
  if (why === null) {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(prebuilt, target);
    console.log('espcap: using the prebuilt addon');
    return;
  }
  console.log(`espcap: building the addon from source: ${why}`);
  buildFromSource();
}

module.exports = { buildFromSource };
if (require.main === module) install();
