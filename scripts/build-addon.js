#!/usr/bin/env node
// Builds the native addon with cmake-js (run by `npm install`).
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const result = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', 'build'], { cwd: root, stdio: 'inherit' });
if (result.status !== 0) {
  console.error('espcap: building the native addon failed (see the cmake output above)');
  process.exit(1);
}
