// The ways to build espcap, each in a fresh copy of the sources: node-gyp
// with binding.gyp (what prebuildify uses) gives an addon that dissects
// exactly as the default cmake-js build; `npm run build` leaves a working
// `npx espcap`.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot, tempDir, testPcaps } from './support/paths';
import { espcap } from './support/programs';

const { nodeGypEnv } = require(path.join(repoRoot, 'scripts', 'build-addon.js')) as { nodeGypEnv(): NodeJS.ProcessEnv };

/** A copy of the named top-level entries of the repository, sharing its node_modules. */
function copyOfSources(prefix: string, entries: string[]): string {
  const dir = tempDir(prefix);
  for (const entry of entries) fs.cpSync(path.join(repoRoot, entry), path.join(dir, entry), { recursive: true });
  fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(command, args, { cwd, env, encoding: 'utf8', maxBuffer: 1 << 30, timeout: 600_000 });
  assert.equal(r.status, 0, `${command} ${args.join(' ')} failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  return r.stdout;
}

test('node-gyp builds the addon from binding.gyp, and it writes the same documents as the cmake-js build', { timeout: 600_000 }, () => {
  const dir = copyOfSources('node-gyp', ['package.json', 'binding.gyp', 'native', 'bin', 'dist']);
  run(process.execPath, [require.resolve('node-gyp/bin/node-gyp.js'), 'rebuild', '--release'], dir, nodeGypEnv());
  assert.ok(fs.existsSync(path.join(dir, 'build', 'Release', 'espcap.node')));
  const mine = run(process.execPath, [path.join(dir, 'bin', 'espcap.js'), '--dir', testPcaps, '--output', '-', '--quiet'], dir);
  const reference = espcap(['--dir', testPcaps, '--output', '-', '--quiet']);
  assert.equal(reference.status, 0, reference.stderr);
  assert.ok(mine.split('\n').length > 1500, 'documents of every shipped capture');
  assert.ok(mine === reference.stdout, 'the same documents, byte for byte');
});

test('npm run build in a fresh copy leaves a working npx espcap', { timeout: 600_000 }, () => {
  const dir = copyOfSources('npm-build', ['package.json', 'package-lock.json', 'tsconfig.json', 'CMakeLists.txt', 'binding.gyp', 'native', 'src', 'bin', 'scripts']);
  run('npm', ['run', 'build'], dir);
  const documents = run('npx', ['--no-install', 'espcap', '--file', path.join(testPcaps, 'test_dns.pcap'), '--output', '-', '--quiet'], dir);
  const lines = documents.trim().split('\n');
  assert.equal(lines.length, 108);
  assert.equal(JSON.parse(lines[0]).layers.dns.qry_name, 'clients6.google.com');
  assert.match(run('npx', ['--no-install', 'espcap', '--version'], dir), /^espcap \d+\.\d+\.\d+ \(libwireshark 4\.(0|2|4|6)\.\d+\)\n$/);
});

test('a libwireshark release espcap does not build against: one line at install time naming the supported ones, exit 1', () => {
  // A stand-in: pkg-config told of a release that does not exist yet (no other release can be installed here beside 4.0).
  const pcDir = tempDir('future-wireshark');
  const real = spawnSync('pkg-config', ['--variable=pcfiledir', 'wireshark'], { encoding: 'utf8' }).stdout.trim();
  fs.writeFileSync(path.join(pcDir, 'wireshark.pc'), fs.readFileSync(path.join(real, 'wireshark.pc'), 'utf8').replace(/^Version:.*$/m, 'Version: 4.8.1'));
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'scripts', 'build-addon.js'), 'build'], {
    env: { ...process.env, PKG_CONFIG_PATH: pcDir },
    encoding: 'utf8',
  });
  assert.equal(r.status, 1);
  assert.equal(r.stderr, 'espcap: libwireshark 4.8.1 is not supported: espcap builds against libwireshark 4.0, 4.2, 4.4, 4.6\n');
  assert.equal(r.stdout, '', 'nothing built');
});
