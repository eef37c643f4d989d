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
// Programmatic use (test harness):
//   const es = require('./scripts/elasticsearch.js');
//   const { url, stop, reused } = await es.start({ quiet: true });
//   ...; await stop();            // or: await es.stop();
//   await es.kill();                          // crash it (SIGKILL), data kept
//   await es.start({ quiet: true, keepData: true });   // the same cluster back
//
// The distribution is the Maven artifact
// org.elasticsearch.distribution.integ-test-zip:elasticsearch:<version>:zip,
// fetched with `mvn dependency:copy` into the cache dir. It carries no JDK,
// so a JDK >= 17 is taken from ESPCAP_JAVA_HOME or found on this machine.
// Each start gets a fresh, empty cluster in <cache>/run (unless keepData).
//
// Environment:
//   ESPCAP_ES_VERSION   Elasticsearch version (default 8.19.21)
//   ESPCAP_ES_HOME      cache dir (default ~/.cache/espcap/elasticsearch; as root
//                       /var/cache/espcap/elasticsearch)
//   ESPCAP_JAVA_HOME    JDK to run Elasticsearch with (default: a JDK >= 17 found here)
//   ESPCAP_ES_HEAP      JVM heap (default: a quarter of the memory, 1 to 4 GiB)
//
// Elasticsearch refuses to run as root: as root, it runs as the system user
// espcap-es (created if missing), which owns the distribution and the run dir.

const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const net = require('node:net');
const http = require('node:http');
const cp = require('node:child_process');

const NAME = 'espcap-es';
const DEFAULT_VERSION = '8.19.21';
const ES_USER = 'espcap-es';
const CLUSTER_NAME = 'espcap-test';
const HEALTH_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 60_000;
const LOCK_TIMEOUT_MS = 900_000;
const MIN_JAVA = 17;

/** An error whose message is meant for the user as is (no stack trace). */
class EsError extends Error {}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Paths and settings of one instance. `instance` names its run dir under the
 * cache dir: "run" for the single-node cluster, "cluster-N/node-I" for the
 * nodes of the multi-node test cluster (startCluster).
 */
function config(instance = 'run', version = process.env.ESPCAP_ES_VERSION || DEFAULT_VERSION) {
  if (!/^[0-9A-Za-z.+-]+$/.test(version)) throw new EsError(`bad ESPCAP_ES_VERSION: ${version}`);
  // root's home is usually closed to other users, and Elasticsearch runs as one:
  // root keeps the cache in /var/cache instead of opening up /root.
  const defaultHome =
    process.getuid && process.getuid() === 0
      ? path.join('/var', 'cache', 'espcap', 'elasticsearch')
      : path.join(os.homedir(), '.cache', 'espcap', 'elasticsearch');
  const cacheDir = path.resolve(process.env.ESPCAP_ES_HOME || defaultHome);
  if (cacheDir === path.parse(cacheDir).root) throw new EsError(`ESPCAP_ES_HOME must not be ${cacheDir}`);
  const runDir = path.join(cacheDir, instance);
  return {
    instance,
    version,
    coords: `org.elasticsearch.distribution.integ-test-zip:elasticsearch:${version}:zip`,
    cacheDir,
    zipPath: path.join(cacheDir, `elasticsearch-${version}.zip`),
    distDir: path.join(cacheDir, `elasticsearch-${version}`),
    runDir,
    confDir: path.join(runDir, 'config'),
    dataDir: path.join(runDir, 'data'),
    logsDir: path.join(runDir, 'logs'),
    tmpDir: path.join(runDir, 'tmp'),
    consoleLog: path.join(runDir, 'console.log'),
    statePath: path.join(runDir, 'state.json'),
    lockPath: path.join(cacheDir, 'lock'),
    heap: process.env.ESPCAP_ES_HEAP || defaultHeap(),
  };
}

// A quarter of this machine's memory, between 1 and 4 GiB. Every index costs
// heap for its mapping: an archive of ~700 daily indices with thousands of
// layer fields each passes a 1 GiB heap's circuit breaker (bench/results/archive-days.md).
function defaultHeap() {
  const mb = Math.floor(require('node:os').totalmem() / 4 / 1024 / 1024);
  return `${Math.max(1024, Math.min(4096, mb))}m`;
}

function logger(quiet) {
  return (msg) => {
    if (!quiet) process.stderr.write(`${NAME}: ${msg}\n`);
  };
}

// ---------------------------------------------------------------- processes

/** Executable `cmd` on PATH (plus the sbin dirs), or null. */
function which(cmd) {
  const dirs = (process.env.PATH || '').split(path.delimiter).filter(Boolean);
  for (const d of ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin']) if (!dirs.includes(d)) dirs.push(d);
  for (const d of dirs) {
    const p = path.join(d, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return null;
}

function run(cmd, args, opts = {}) {
  const r = cp.spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  return { status: r.error ? -1 : r.status, stdout: r.stdout || '', stderr: r.stderr || '', error: r.error };
}

function lastLines(text, n) {
  const lines = text.split('\n');
  while (lines.length && lines[lines.length - 1].trim() === '') lines.pop();
  return lines.slice(-n);
}

const HAVE_PROC = fs.existsSync('/proc/self/stat');

/** {state, pgrp} of a pid from /proc, or null when it does not exist. */
function procStat(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0], pgrp: Number(rest[2]) };
  } catch {
    return null;
  }
}

function procCmdline(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/** True if pid runs (a zombie does not count). */
function pidAlive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if (e.code !== 'EPERM') return false;
  }
  if (HAVE_PROC) {
    const st = procStat(pid);
    return st !== null && st.state !== 'Z' && st.state !== 'X';
  }
  return true;
}

function procEnviron(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

/**
 * Does this process belong to the instance described by st? The server JVM
 * names its config dir on its command line; the launcher runs the shared
 * distribution's script with the config dir in its environment (several
 * instances share one distribution).
 */
function isOurs(pid, st) {
  const cmdline = procCmdline(pid);
  if (cmdline.includes(`es.path.conf=${st.confDir}`)) return true;
  return cmdline.includes(path.join(st.distDir, 'bin', 'elasticsearch')) && procEnviron(pid).includes(`ES_PATH_CONF=${st.confDir}`);
}

/**
 * Live pids of the instance: its process group (the launcher and the server
 * JVM) and anything whose command line names its config dir.
 */
function instancePids(st) {
  if (!HAVE_PROC) {
    if (!(st.pid > 0)) return [];
    try {
      process.kill(-st.pid, 0);
      return [st.pid];
    } catch (e) {
      return e.code === 'EPERM' ? [st.pid] : [];
    }
  }
  const leaderOurs = pidAlive(st.pid) && isOurs(st.pid, st);
  const pids = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const ps = procStat(pid);
    if (!ps || ps.state === 'Z' || ps.state === 'X') continue;
    if ((leaderOurs && ps.pgrp === st.pid) || isOurs(pid, st)) pids.push(pid);
  }
  return pids;
}

function signal(pid, sig) {
  try {
    process.kill(pid, sig);
    return true;
  } catch (e) {
    if (e.code === 'EPERM') throw new EsError(`not allowed to signal elasticsearch (pid ${pid}); run this as the user who started it`);
    return false;
  }
}

/** Crash an instance the way a failing machine would (SIGKILL), data kept. False if it was not running. */
async function killInstance(st, log, what) {
  if (instancePids(st).length === 0) return false;
  log(`killing ${what}`);
  for (const pid of instancePids(st)) signal(pid, 'SIGKILL');
  for (let i = 0; i < 100 && instancePids(st).length; i++) await sleep(100);
  if (instancePids(st).length) throw new EsError(`could not kill ${what} (pids ${instancePids(st).join(' ')})`);
  return true;
}

/** Stop an instance: SIGTERM, wait up to timeoutMs, then SIGKILL. */
async function stopInstance(st, log, timeoutMs = STOP_TIMEOUT_MS) {
  let pids = instancePids(st);
  if (pids.length === 0) return false;
  log(`stopping elasticsearch (pid ${st.pid})`);
  const t0 = Date.now();
  if (pids.includes(st.pid)) {
    try {
      process.kill(-st.pid, 'SIGTERM');
    } catch {
      // group gone or not ours; signal one by one below
    }
  }
  for (const pid of pids) signal(pid, 'SIGTERM');
  while (Date.now() - t0 < timeoutMs) {
    await sleep(200);
    pids = instancePids(st);
    if (pids.length === 0) {
      log(`stopped in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      return true;
    }
  }
  log(`still running after ${Math.round(timeoutMs / 1000)} s; sending SIGKILL`);
  for (const pid of pids) signal(pid, 'SIGKILL');
  for (let i = 0; i < 50 && instancePids(st).length; i++) await sleep(200);
  if (instancePids(st).length) throw new EsError(`could not kill elasticsearch (pids ${instancePids(st).join(' ')})`);
  return true;
}

// ------------------------------------------------------------------ state

function readState(cfg) {
  try {
    const st = JSON.parse(fs.readFileSync(cfg.statePath, 'utf8'));
    return st && Number.isInteger(st.pid) ? st : null;
  } catch {
    return null;
  }
}

function removeState(cfg) {
  fs.rmSync(cfg.statePath, { force: true });
}

/** A lock file in the cache dir, so that concurrent starts and stops take turns. */
async function withLock(cfg, log, fn) {
  fs.mkdirSync(cfg.cacheDir, { recursive: true, mode: 0o755 });
  const t0 = Date.now();
  let said = false;
  for (;;) {
    try {
      const fd = fs.openSync(cfg.lockPath, 'wx', 0o644);
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw new EsError(`cannot create ${cfg.lockPath}: ${e.message}`);
    }
    let holder = NaN;
    let age = 0;
    try {
      holder = Number(fs.readFileSync(cfg.lockPath, 'utf8').trim());
      age = Date.now() - fs.statSync(cfg.lockPath).mtimeMs;
    } catch {
      continue; // just released
    }
    if (Number.isInteger(holder) && holder > 0 ? !pidAlive(holder) : age > 10_000) {
      fs.rmSync(cfg.lockPath, { force: true }); // stale
      continue;
    }
    if (Date.now() - t0 > LOCK_TIMEOUT_MS) throw new EsError(`timed out waiting for ${cfg.lockPath} (held by pid ${holder})`);
    if (!said) log(`waiting for another start/stop (pid ${holder}) to finish`);
    said = true;
    await sleep(300);
  }
  try {
    return await fn();
  } finally {
    try {
      if (fs.readFileSync(cfg.lockPath, 'utf8').trim() === String(process.pid)) fs.rmSync(cfg.lockPath, { force: true });
    } catch {
      // already gone
    }
  }
}

// ------------------------------------------------------------------- http

function httpGet(url, timeoutMs = 5000) {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', (e) => resolve({ status: 0, body: '', error: e }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, body: '', error: e }));
  });
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Cluster health is yellow or green. */
async function healthy(url, nodes = 1) {
  const r = await httpGet(`${url}/_cluster/health?wait_for_status=yellow&wait_for_nodes=${nodes}&timeout=1s`);
  const h = r.status === 200 ? parseJson(r.body) : null;
  return !!h && (h.status === 'green' || h.status === 'yellow');
}

/** A healthy instance of this script's cluster, of the wanted version, answers at url. */
async function healthyInstance(url, version, clusterName = CLUSTER_NAME) {
  if (!(await healthy(url))) return false;
  // Not GET /: the integ-test-zip lacks the rest-root module that serves it.
  const r = await httpGet(`${url}/_nodes/_local?filter_path=cluster_name,nodes.*.version`);
  const info = r.status === 200 ? parseJson(r.body) : null;
  const node = info && info.nodes ? Object.values(info.nodes)[0] : null;
  return !!info && info.cluster_name === clusterName && (!version || (!!node && node.version === version));
}

// ------------------------------------------------------------------ ports

function tryListen(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(null));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      const got = srv.address().port;
      srv.close(() => resolve(got));
    });
  });
}

/** A free port on 127.0.0.1, preferably in [from, to]. */
async function freePort(from, to, exclude) {
  for (let p = from; p <= to; p++) {
    if (exclude.includes(p)) continue;
    if ((await tryListen(p)) !== null) return p;
  }
  for (let i = 0; i < 20; i++) {
    const p = await tryListen(0);
    if (p !== null && !exclude.includes(p)) return p;
  }
  throw new EsError('found no free TCP port on 127.0.0.1');
}

// ------------------------------------------------------------ distribution

function findFile(dir, pred) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      const f = findFile(p, pred);
      if (f) return f;
    } else if (pred(e.name)) return p;
  }
  return null;
}

/** The distribution zip in the cache dir, fetched with Maven if missing. */
function ensureZip(cfg, log) {
  if (fs.existsSync(cfg.zipPath) && fs.statSync(cfg.zipPath).size > 0) return;
  const mvn = which('mvn');
  if (!mvn) throw new EsError(`mvn not found: install Maven, or put ${path.basename(cfg.zipPath)} (${cfg.coords}) into ${cfg.cacheDir}`);
  log(`fetching ${cfg.coords} with mvn (first time only)`);
  const tmp = fs.mkdtempSync(path.join(cfg.cacheDir, '.fetch-'));
  try {
    let r = run(mvn, ['-B', '-q', 'dependency:copy', `-Dartifact=${cfg.coords}`, `-DoutputDirectory=${tmp}`], { cwd: tmp });
    let zip = r.status === 0 ? findFile(tmp, (n) => n.endsWith('.zip')) : null;
    if (!zip) {
      // Older plugin versions want a project for copy; get it into the local repository instead.
      const r2 = run(mvn, ['-B', '-q', 'dependency:get', `-Dartifact=${cfg.coords}`, '-Dtransitive=false'], { cwd: tmp });
      const local = path.join(os.homedir(), '.m2', 'repository', 'org', 'elasticsearch', 'distribution', 'integ-test-zip', 'elasticsearch', cfg.version, `elasticsearch-${cfg.version}.zip`);
      if (r2.status === 0 && fs.existsSync(local)) zip = local;
      else {
        if (r2.status !== 0) r = r2;
        const tail = lastLines(`${r.stdout}\n${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, ''), 20);
        if (tail.length) process.stderr.write(tail.join('\n') + '\n');
        throw new EsError(`mvn could not fetch ${cfg.coords} (${r.error ? r.error.message : `exit ${r.status}`})`);
      }
    }
    const part = `${cfg.zipPath}.part-${process.pid}`;
    fs.copyFileSync(zip, part);
    fs.renameSync(part, cfg.zipPath);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Make every file in a bin/ dir executable (python's zipfile drops the modes). */
function fixModes(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) fixModes(p);
    else if (e.isFile() && path.basename(dir) === 'bin') fs.chmodSync(p, 0o755);
  }
}

/** The unzipped distribution in the cache dir. */
function ensureDist(cfg, log) {
  const marker = path.join(cfg.distDir, '.espcap-unzipped');
  if (fs.existsSync(marker)) return;
  ensureZip(cfg, log);
  log(`unzipping ${path.basename(cfg.zipPath)}`);
  const tmp = fs.mkdtempSync(path.join(cfg.cacheDir, '.unzip-'));
  try {
    const unzip = which('unzip');
    const python = which('python3');
    let r;
    if (unzip) r = run(unzip, ['-q', '-o', cfg.zipPath, '-d', tmp]);
    else if (python) r = run(python, ['-m', 'zipfile', '-e', cfg.zipPath, tmp]);
    else throw new EsError('neither unzip nor python3 found: install unzip');
    if (r.status !== 0) {
      fs.rmSync(cfg.zipPath, { force: true }); // probably damaged; fetch it again next time
      throw new EsError(`cannot unzip ${cfg.zipPath}: ${lastLines(r.stderr || r.stdout, 1)[0] || `exit ${r.status}`}`);
    }
    const top = fs.readdirSync(tmp).filter((n) => fs.existsSync(path.join(tmp, n, 'bin', 'elasticsearch')));
    if (top.length !== 1) throw new EsError(`${cfg.zipPath} does not contain an elasticsearch distribution`);
    fixModes(path.join(tmp, top[0]));
    fs.rmSync(cfg.distDir, { recursive: true, force: true });
    fs.renameSync(path.join(tmp, top[0]), cfg.distDir);
    fs.writeFileSync(marker, `${cfg.coords}\n`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// -------------------------------------------------------------------- java

function javaMajor(home) {
  const java = path.join(home, 'bin', 'java');
  try {
    fs.accessSync(java, fs.constants.X_OK);
  } catch {
    return null;
  }
  let v = null;
  try {
    const m = /^JAVA_VERSION="([^"]+)"/m.exec(fs.readFileSync(path.join(home, 'release'), 'utf8'));
    if (m) v = m[1];
  } catch {
    // no release file
  }
  if (!v) {
    const r = run(java, ['-version']);
    const m = /version "([^"]+)"/.exec(r.stderr + r.stdout);
    if (m) v = m[1];
  }
  if (!v) return null;
  const parts = v.split(/[._+-]/).map(Number);
  return { major: parts[0] === 1 ? parts[1] : parts[0], version: v };
}

/** The oldest Java a release of Elasticsearch runs on: 17 for 8.x, 21 for 9.x. */
function minJava(esVersion) {
  return Number(esVersion.split('.')[0]) >= 9 ? 21 : MIN_JAVA;
}

/** The JDK to run Elasticsearch `esVersion` with: {home, major, version}. */
function pickJava(esVersion) {
  const MIN_JAVA = minJava(esVersion);
  const forced = process.env.ESPCAP_JAVA_HOME;
  if (forced) {
    const j = javaMajor(forced);
    if (!j) throw new EsError(`ESPCAP_JAVA_HOME=${forced} has no bin/java`);
    if (j.major < MIN_JAVA) throw new EsError(`ESPCAP_JAVA_HOME=${forced} is Java ${j.version}; elasticsearch needs ${MIN_JAVA} or newer`);
    return { home: forced, ...j };
  }
  const homes = [];
  for (const root of ['/usr/lib/jvm', '/Library/Java/JavaVirtualMachines']) {
    let names = [];
    try {
      names = fs.readdirSync(root).sort();
    } catch {
      continue;
    }
    for (const n of names) homes.push(root.startsWith('/Library') ? path.join(root, n, 'Contents', 'Home') : path.join(root, n));
  }
  if (process.env.JAVA_HOME) homes.push(process.env.JAVA_HOME);
  const onPath = which('java');
  if (onPath) {
    try {
      homes.push(path.dirname(path.dirname(fs.realpathSync(onPath))));
    } catch {
      // dangling link
    }
  }
  // 21 and 17 are the long-term releases Elasticsearch 8.x is tested on most;
  // other releases >= 17 come after them, long-term ones and newer ones first.
  const rank = (m) => (m === 21 ? 0 : m === 17 ? 1 : (m - 17) % 4 === 0 ? 1000 - m : 2000 - m);
  // (Elasticsearch 9 needs 21: on a machine with 17 and 25, that is 25.)
  const seen = new Set();
  const found = [];
  for (const h of homes) {
    let real;
    try {
      real = fs.realpathSync(h);
    } catch {
      continue;
    }
    if (seen.has(real)) continue;
    seen.add(real);
    const j = javaMajor(real);
    if (j && j.major >= MIN_JAVA) found.push({ home: real, ...j });
  }
  found.sort((a, b) => rank(a.major) - rank(b.major));
  if (!found.length)
    throw new EsError(`no Java ${MIN_JAVA} or newer found in /usr/lib/jvm for Elasticsearch ${esVersion}; install openjdk-${MIN_JAVA}-jre-headless or set ESPCAP_JAVA_HOME`);
  return found[0];
}

// ------------------------------------------------------------- the ES user

function idOf(flag) {
  const r = run('id', [flag, ES_USER]);
  return r.status === 0 ? Number(r.stdout.trim()) : null;
}

/** As root: the unprivileged user to run Elasticsearch as, {uid, gid}; otherwise null. */
function ensureEsUser(log) {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  if (idOf('-u') === null) {
    const useradd = which('useradd');
    if (!useradd) throw new EsError(`running as root and cannot create user ${ES_USER}: useradd not found`);
    log(`creating system user ${ES_USER} (elasticsearch refuses to run as root)`);
    const r = run(useradd, ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', ES_USER]);
    if (r.status !== 0 && idOf('-u') === null) throw new EsError(`useradd ${ES_USER} failed: ${lastLines(r.stderr, 1)[0] || `exit ${r.status}`}`);
  }
  const uid = idOf('-u');
  const gid = idOf('-g');
  if (uid === null || gid === null) throw new EsError(`cannot look up user ${ES_USER}`);
  return { uid, gid };
}

function chownTree(p, uid, gid) {
  const st = fs.lstatSync(p);
  if (st.uid !== uid || st.gid !== gid) fs.lchownSync(p, uid, gid);
  if (st.isDirectory()) for (const n of fs.readdirSync(p)) chownTree(path.join(p, n), uid, gid);
}

/**
 * The ES user must be able to reach the cache dir: give search permission
 * (o+x, not read) on ancestors that lack it, such as a 0700 /root.
 */
function ensureReachable(dir, user, log) {
  const chain = [];
  for (let d = dir; ; d = path.dirname(d)) {
    chain.unshift(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of chain) {
    const st = fs.statSync(d);
    const ok = st.uid === user.uid ? st.mode & 0o100 : st.gid === user.gid ? st.mode & 0o010 : st.mode & 0o001;
    if (!ok) {
      log(`granting search permission (o+x) on ${d} so that user ${ES_USER} can reach ${dir}`);
      fs.chmodSync(d, (st.mode & 0o7777) | 0o001);
    }
  }
}

// ------------------------------------------------------------------- start

function yamlString(s) {
  return JSON.stringify(s);
}

/**
 * elasticsearch.yml of one node. `topology` is absent for the single-node
 * cluster; for a node of the multi-node cluster it names the cluster, the node
 * and the transport addresses of all nodes.
 */
function writeConfig(cfg, httpPort, transportPort, topology) {
  fs.cpSync(path.join(cfg.distDir, 'config'), cfg.confDir, { recursive: true });
  const modules = path.join(cfg.distDir, 'modules');
  const lines = [
    '# Written by espcap scripts/elasticsearch.js; recreated on every start.',
    `cluster.name: ${topology ? topology.clusterName : CLUSTER_NAME}`,
    `node.name: ${topology ? topology.nodeName : 'espcap-test-node'}`,
    'network.host: 127.0.0.1',
    `http.port: ${httpPort}`,
    `transport.port: ${transportPort}`,
    ...(topology
      ? [
          `discovery.seed_hosts: ${JSON.stringify(topology.seedHosts)}`,
          `cluster.initial_master_nodes: ${JSON.stringify(topology.nodeNames)}`,
        ]
      : ['discovery.type: single-node']),
    `path.data: ${yamlString(cfg.dataDir)}`,
    `path.logs: ${yamlString(cfg.logsDir)}`,
    'action.destructive_requires_name: false',
    'cluster.routing.allocation.disk.threshold_enabled: false',
  ];
  // Settings of modules the distribution lacks would make Elasticsearch refuse to start.
  if (fs.existsSync(path.join(modules, 'x-pack-security'))) lines.push('xpack.security.enabled: false');
  if (fs.existsSync(path.join(modules, 'ingest-geoip'))) lines.push('ingest.geoip.downloader.enabled: false');
  fs.writeFileSync(path.join(cfg.confDir, 'elasticsearch.yml'), lines.join('\n') + '\n');
}

function logTail(cfg, n = 20) {
  for (const f of [cfg.consoleLog, path.join(cfg.logsDir, `${CLUSTER_NAME}.log`)]) {
    try {
      const lines = lastLines(fs.readFileSync(f, 'utf8'), n);
      if (lines.length) return lines;
    } catch {
      // try the next one
    }
  }
  return [];
}

function esEnv(cfg, java) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(ES_|JAVA_|_JAVA_OPTIONS$|CLI_JAVA_OPTS$|JAVA_OPTS$)/.test(k)) continue;
    env[k] = v;
  }
  Object.assign(env, {
    ES_JAVA_HOME: java.home,
    ES_PATH_CONF: cfg.confDir,
    ES_JAVA_OPTS: `-Xms${cfg.heap} -Xmx${cfg.heap}`,
    ES_TMPDIR: cfg.tmpDir,
    HOME: cfg.runDir,
  });
  return env;
}

/** The command that runs bin/elasticsearch, as the ES user when root. */
function launchCommand(cfg, user) {
  const bin = path.join(cfg.distDir, 'bin', 'elasticsearch');
  if (!user) return [bin, []];
  const setpriv = which('setpriv');
  if (setpriv) return [setpriv, [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--', bin]];
  const runuser = which('runuser');
  if (runuser) return [runuser, ['-u', ES_USER, '--', bin]];
  throw new EsError(`running as root and found neither setpriv nor runuser to run elasticsearch as ${ES_USER}`);
}

/**
 * Starts the instance's server process (as the ES user when root) with the
 * given ports, and records it in its state file. Does not wait for it.
 */
function launch(cfg, log, ports, topology, java, user) {
  for (const d of [cfg.runDir, cfg.dataDir, cfg.logsDir, cfg.tmpDir]) fs.mkdirSync(d, { recursive: true, mode: 0o755 });
  writeConfig(cfg, ports.http, ports.transport, topology);
  const out = fs.openSync(cfg.consoleLog, 'a', 0o644);
  if (user) {
    ensureReachable(cfg.cacheDir, user, log);
    chownTree(cfg.runDir, user.uid, user.gid);
  }
  const url = `http://127.0.0.1:${ports.http}`;
  const [cmd, args] = launchCommand(cfg, user);
  log(`starting elasticsearch ${cfg.version} ${topology ? `node ${topology.nodeName} ` : ''}at ${url}${user ? ` as user ${ES_USER}` : ''} (logs in ${cfg.runDir})`);
  let child;
  try {
    child = cp.spawn(cmd, args, { cwd: cfg.runDir, env: esEnv(cfg, java), detached: true, stdio: ['ignore', out, out] });
  } finally {
    fs.closeSync(out);
  }
  const launched = { exited: null, spawnError: null };
  child.on('exit', (code, sig) => (launched.exited = sig ? `killed by ${sig}` : `exit code ${code}`));
  child.on('error', (e) => (launched.spawnError = e));
  child.unref();
  const st = {
    pid: child.pid,
    url,
    httpPort: ports.http,
    transportPort: ports.transport,
    clusterName: topology ? topology.clusterName : CLUSTER_NAME,
    version: cfg.version,
    cacheDir: cfg.cacheDir,
    distDir: cfg.distDir,
    confDir: cfg.confDir,
    runDir: cfg.runDir,
    user: user ? ES_USER : os.userInfo().username,
    java: java.home,
    startedAt: new Date().toISOString(),
  };
  fs.writeFileSync(cfg.statePath, JSON.stringify(st, null, 2) + '\n');
  return { st, launched };
}

/** Waits until every launched instance answers healthy at `healthUrl`; stops them all if one dies or time runs out. */
async function waitHealthy(instances, healthUrl, log, nodes = 1) {
  const t0 = Date.now();
  let lastSaid = 0;
  const giveUp = async (why) => {
    for (const { cfg, st } of instances) {
      await stopInstance(st, () => {}, 15_000); // the server JVM may outlive the launcher
      removeState(cfg);
    }
    for (const { cfg } of instances) {
      const tail = logTail(cfg);
      if (tail.length) process.stderr.write(tail.join('\n') + '\n');
    }
    throw new EsError(`${why}; logs in ${instances.map(({ cfg }) => cfg.runDir).join(', ')}`);
  };
  await sleep(0);
  for (;;) {
    for (const { st, launched } of instances) {
      if (launched.spawnError) await giveUp(`cannot run elasticsearch: ${launched.spawnError.message}`);
      if (launched.exited || !pidAlive(st.pid)) await giveUp(`elasticsearch exited during startup (${launched.exited || 'gone'})`);
    }
    if (await healthy(healthUrl, nodes)) break;
    const waited = Date.now() - t0;
    if (waited > HEALTH_TIMEOUT_MS) await giveUp(`elasticsearch was not healthy after ${HEALTH_TIMEOUT_MS / 1000} s`);
    if (waited - lastSaid >= 15_000) {
      if (lastSaid) log(`still waiting for elasticsearch (${Math.round(waited / 1000)} s)`);
      lastSaid = waited;
    }
    await sleep(500);
  }
  log(`elasticsearch is up after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/** Ports of an earlier start of this instance, if it is to come back with its data (after kill()). */
async function retire(cfg, log, keepData) {
  const old = readState(cfg);
  let ports = null;
  if (old) {
    await stopInstance({ ...old, confDir: old.confDir || cfg.confDir, distDir: old.distDir || cfg.distDir }, log, 20_000);
    if (keepData && old.httpPort) ports = { http: old.httpPort, transport: old.transportPort };
    removeState(cfg);
  }
  // Strays of this instance without a state file.
  await stopInstance({ pid: -1, confDir: cfg.confDir, distDir: cfg.distDir }, log, 20_000);
  if (!ports) fs.rmSync(cfg.runDir, { recursive: true, force: true });
  return ports;
}

async function startLocked(cfg, log, keepData) {
  // Reuse a healthy instance of this script.
  const old = readState(cfg);
  if (old && pidAlive(old.pid) && old.version === cfg.version && (await healthyInstance(old.url, cfg.version))) {
    log(`elasticsearch ${cfg.version} already running (pid ${old.pid})`);
    return { url: old.url, pid: old.pid, reused: true };
  }
  let ports = await retire(cfg, log, keepData);
  const java = pickJava(cfg.version);
  log(`using Java ${java.version} at ${java.home}`);
  const user = ensureEsUser(log);
  ensureDist(cfg, log);
  if (user) chownTree(cfg.distDir, user.uid, user.gid);
  if (!ports) {
    const http = await freePort(9250, 9299, []);
    ports = { http, transport: await freePort(9350, 9399, [http]) };
  }
  const { st, launched } = launch(cfg, log, ports, null, java, user);
  await waitHealthy([{ cfg, st, launched }], st.url, log);
  return { url: st.url, pid: st.pid, reused: false };
}

// -------------------------------------------------------------------- API

/**
 * Start (or reuse) the local Elasticsearch.
 * @param {{quiet?: boolean}} [opts]  quiet: no progress lines on stderr
 * @returns {Promise<{url: string, stop: () => Promise<void>, reused: boolean}>}
 *   stop() stops this instance (a no-op if another one has replaced it).
 */
async function start({ quiet = false, keepData = false } = {}) {
  const cfg = config();
  const log = logger(quiet);
  const got = await withLock(cfg, log, () => startLocked(cfg, log, keepData));
  const stopThis = async () => {
    await withLock(cfg, log, async () => {
      const st = readState(cfg);
      if (!st || st.pid !== got.pid) return;
      await stopInstance(st, log);
      removeState(cfg);
    });
  };
  return { url: got.url, stop: stopThis, reused: got.reused };
}

/**
 * Kill the local Elasticsearch the way a crash does (SIGKILL), keeping its
 * data and address, so that start({keepData: true}) brings the same cluster
 * back. For fault tests. Returns false if none was running.
 */
async function kill({ quiet = false } = {}) {
  const cfg = config();
  const log = logger(quiet);
  return withLock(cfg, log, async () => {
    const st = readState(cfg);
    return st ? killInstance(st, log, `elasticsearch (pid ${st.pid})`) : false;
  });
}

/** Stop the local Elasticsearch if this script started one. */
async function stop({ quiet = false } = {}) {
  const cfg = config();
  const log = logger(quiet);
  await withLock(cfg, log, async () => {
    const st = readState(cfg);
    const stopped = await stopInstance(st ? { ...st, confDir: st.confDir || cfg.confDir, distDir: st.distDir || cfg.distDir } : { pid: -1, confDir: cfg.confDir, distDir: cfg.distDir }, log);
    removeState(cfg);
    if (!stopped) log('elasticsearch is not running');
  });
}

/** {running, healthy, url?, pid?} of the local Elasticsearch. */
async function status() {
  const cfg = config();
  const st = readState(cfg);
  if (!st || !pidAlive(st.pid)) return { running: false, healthy: false };
  return { running: true, healthy: await healthyInstance(st.url), url: st.url, pid: st.pid, version: st.version };
}

/**
 * A cluster of `nodes` Elasticsearch processes on loopback, for fault tests:
 * one cluster ("espcap-test-<nodes>"), each node master-eligible with its own
 * data, fresh on every start. Returns the node URLs and controls to crash
 * (SIGKILL), stop and start nodes again with their data and addresses.
 */
async function startCluster({ nodes = 3, quiet = false, heap = '512m', version = undefined } = {}) {
  const log = logger(quiet);
  const clusterName = `espcap-test-${nodes}`;
  // Another release than the default gets run dirs of its own.
  const dir = version ? `cluster-${version}-${nodes}` : `cluster-${nodes}`;
  const cfgs = Array.from({ length: nodes }, (_, i) => ({ ...config(`${dir}/node-${i + 1}`, version), heap }));
  const names = cfgs.map((_, i) => `node-${i + 1}`);
  const ports = [];
  let java;
  let user;
  const launchNode = (i) => ({
    cfg: cfgs[i],
    ...launch(cfgs[i], log, ports[i], { clusterName, nodeName: names[i], seedHosts: ports.map((p) => `127.0.0.1:${p.transport}`), nodeNames: names }, java, user),
  });
  await withLock(cfgs[0], log, async () => {
    for (const cfg of cfgs) await retire(cfg, log, false);
    java = pickJava(cfgs[0].version);
    user = ensureEsUser(log);
    ensureDist(cfgs[0], log);
    if (user) chownTree(cfgs[0].distDir, user.uid, user.gid);
    const taken = [];
    for (let i = 0; i < nodes; i++) {
      const http = await freePort(9400, 9449, taken);
      const transport = await freePort(9450, 9499, [...taken, http]);
      taken.push(http, transport);
      ports.push({ http, transport });
    }
    await waitHealthy(cfgs.map((_, i) => launchNode(i)), `http://127.0.0.1:${ports[0].http}`, log, nodes);
  });
  const urls = ports.map((p) => `http://127.0.0.1:${p.http}`);
  return {
    urls,
    /** Crashes node i (SIGKILL); its data stays. */
    async kill(i) {
      const st = readState(cfgs[i]);
      if (st) await killInstance(st, log, names[i]);
    },
    /** Stops node i the orderly way (SIGTERM). */
    async stop(i) {
      const st = readState(cfgs[i]);
      if (st) await stopInstance(st, log);
    },
    /** Starts the given stopped nodes again and waits until the whole cluster is back. */
    async start(which = names.map((_, i) => i)) {
      await waitHealthy(which.map(launchNode), urls[which[0]], log, nodes);
    },
    /** Stops every node and removes the cluster's data. */
    async close() {
      for (let i = 0; i < nodes; i++) {
        const st = readState(cfgs[i]);
        if (st) await stopInstance(st, log);
        removeState(cfgs[i]);
      }
      fs.rmSync(path.dirname(cfgs[0].runDir), { recursive: true, force: true });
    },
  };
}

module.exports = { start, stop, kill, status, startCluster, pickJava };

// -------------------------------------------------------------------- CLI

async function main(argv) {
  const usage = 'usage: node scripts/elasticsearch.js start|stop|status';
  const cmd = argv[0];
  if (cmd === 'help' || cmd === '--help' || cmd === '-h') {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (argv.length !== 1 || !['start', 'stop', 'status'].includes(cmd)) throw new EsError(usage);
  if (cmd === 'start') {
    const { url } = await start();
    process.stdout.write(`${url}\n`);
  } else if (cmd === 'stop') {
    await stop();
  } else {
    const s = await status();
    if (!s.running) throw new EsError('elasticsearch is not running');
    if (!s.healthy) throw new EsError(`elasticsearch (pid ${s.pid}) runs but is not healthy at ${s.url}`);
    process.stderr.write(`${NAME}: elasticsearch ${s.version} running (pid ${s.pid})\n`);
    process.stdout.write(`${s.url}\n`);
  }
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      const msg = err instanceof Error ? err.message : String(err);
      process.stderr.write(`${NAME}: ${msg.split('\n')[0]}\n`);
      process.exit(1);
    },
  );
}
