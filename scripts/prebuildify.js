#!/usr/bin/env node
// `npm run build:prebuilt`: a prebuilt linux-x64 addon in prebuilds/, built by
// prebuildify with node-gyp from binding.gyp, with a note of the libwireshark
// release it was built against. libwireshark's soname changes with every
// minor release, so `npm install` uses it only where it links.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { nodeGypEnv } = require('./build-addon');

const root = path.join(__dirname, '..');
execFileSync(process.execPath, [require.resolve('prebuildify/bin.js'), '--napi', '--strip', '--name', 'espcap'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...nodeGypEnv(), PREBUILD_NODE_GYP: require.resolve('node-gyp/bin/node-gyp.js') },
});
const version = execFileSync('pkg-config', ['--modversion', 'wireshark'], { encoding: 'utf8' }).trim();
const prebuilds = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
fs.writeFileSync(path.join(prebuilds, 'espcap.wireshark-version'), version + '\n');
// node-gyp rebuilt build/ from scratch and prebuildify took the addon from it:
// put it back, so that espcap here still runs.
fs.copyFileSync(path.join(prebuilds, 'espcap.node'), path.join(root, 'build', 'Release', 'espcap.node'));
console.log(`prebuilt addon for libwireshark ${version} in prebuilds/${process.platform}-${process.arch}/`);
