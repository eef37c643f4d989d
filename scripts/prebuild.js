#!/usr/bin/env node
// `npm run prebuild`: a prebuilt linux-x64 addon in prebuilds/, with a note of
// the libwireshark release it was built against. libwireshark's soname changes
// with every minor release, so install uses it only where it links.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
execFileSync(
  process.execPath,
  [require.resolve('prebuildify/bin.js'), '--napi', '--strip', '--name', 'espcap', '--node-gyp', path.join(__dirname, 'node-gyp-shim.js')],
  { cwd: root, stdio: 'inherit' },
);
const version = execFileSync('pkg-config', ['--modversion', 'wireshark'], { encoding: 'utf8' }).trim();
fs.writeFileSync(path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'espcap.wireshark-version'), version + '\n');
console.log(`prebuilt addon for libwireshark ${version} in prebuilds/${process.platform}-${process.arch}/`);
