#!/usr/bin/env node
// Builds the native addon at build/Release/espcap.node.
//
//   node scripts/build-addon.js          `npm install`: the prebuilt addon when it links
//                                         against the libwireshark installed here, else from source
//   node scripts/build-addon.js build    `npm run build`: from source with cmake-js (incremental)
//
// Both builds (cmake-js with CMakeLists.txt, node-gyp with binding.gyp) find
// Node's headers on this machine: nodeGypEnv() says where, for node-gyp.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const target = path.join(root, 'build', 'Release', 'espcap.node');
const prebuiltDir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const prebuilt = path.join(prebuiltDir, 'espcap.node');

// The libwireshark release series espcap builds against (native/wireshark_compat.h; CMakeLists.txt checks the same).
const SUPPORTED_RELEASES = ['4.0', '4.2', '4.4', '4.6'];

/** Why the libwireshark installed here cannot be built against, in one line, or null if it can. */
function unsupportedWireshark(env = process.env) {
  const r = spawnSync('pkg-config', ['--modversion', 'wireshark'], { encoding: 'utf8', env });
  if (r.error) return 'pkg-config is missing: install it (Debian/Ubuntu: pkg-config), then libwireshark-dev';
  const version = r.status === 0 ? r.stdout.trim() : '';
  if (!version)
    return 'libwireshark development files not found by pkg-config: install libwireshark-dev, libwiretap-dev and libglib2.0-dev (Debian/Ubuntu; scripts/install-deps.sh installs them)';
  if (!SUPPORTED_RELEASES.includes(version.split('.').slice(0, 2).join('.')))
    return `libwireshark ${version} is not supported: espcap builds against libwireshark ${SUPPORTED_RELEASES.join(', ')}`;
  return null;
}

function buildFromSource() {
  const unsupported = unsupportedWireshark();
  if (unsupported) {
    console.error(`espcap: ${unsupported}`);
    process.exit(1);
  }
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const result = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', 'build'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error('espcap: building the native addon failed (see the cmake output above)');
    process.exit(1);
  }
}

/**
 * The environment for node-gyp: Node's headers from this Node's own
 * installation (<prefix>/include/node), when it has them, so that node-gyp
 * does not download them.
 */
function nodeGypEnv(env = process.env) {
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  if (env.npm_config_nodedir || !fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) return env;
  return { ...env, npm_config_nodedir: prefix };
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

module.exports = { nodeGypEnv, unsupportedWireshark };
if (require.main === module) {
  if (process.argv[2] === 'build') buildFromSource();
  else install();
}
