// Elasticsearch instances for the tests: the single-node cluster (start,
// stop, kill, status) and multi-node clusters (startCluster). Each instance
// has a run dir under the cache dir holding its config, data, logs and a
// state file that names its process and address; every instance of a release
// runs from the one distribution in the cache dir.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as cp from 'node:child_process';
import { ClusterError, Log, lastLines, logger, sleep } from './common';
import { Distribution, ensureDist } from './download';
import * as jdk from './jdk';
import { Java } from './jdk';
import { freePort, healthy, httpGet, parseJson } from './network';
import {
  Instance,
  SERVICE_USER,
  User,
  chownTree,
  ensureReachable,
  ensureServiceUser,
  killInstance,
  pidAlive,
  procCmdline,
  procEnviron,
  stopInstance,
  which,
  withLock,
} from './process';
import { ELASTICSEARCH } from './product';

const PRODUCT = ELASTICSEARCH;
const CLUSTER_NAME = 'espcap-test';
const HEALTH_TIMEOUT_MS = 180_000;

/**
 * Paths and settings of one instance. `instance` names its run dir under the
 * cache dir: "run" for the single-node cluster, "cluster-N/node-I" for the
 * nodes of a multi-node test cluster (startCluster).
 */
interface Config extends Distribution {
  instance: string;
  runDir: string;
  confDir: string;
  dataDir: string;
  logsDir: string;
  tmpDir: string;
  consoleLog: string;
  statePath: string;
  /** One lock for the whole cache dir. */
  lockPath: string;
  heap: string;
}

function config(instance = 'run', version = process.env.ESPCAP_ES_VERSION || PRODUCT.defaultVersion): Config {
  if (!/^[0-9A-Za-z.+-]+$/.test(version)) throw new ClusterError(`bad ESPCAP_ES_VERSION: ${version}`);
  // root's home is usually closed to other users, and Elasticsearch runs as one:
  // root keeps the cache in /var/cache instead of opening up /root.
  const defaultHome =
    process.getuid && process.getuid() === 0
      ? path.join('/var', 'cache', 'espcap', PRODUCT.name)
      : path.join(os.homedir(), '.cache', 'espcap', PRODUCT.name);
  const cacheDir = path.resolve(process.env.ESPCAP_ES_HOME || defaultHome);
  if (cacheDir === path.parse(cacheDir).root) throw new ClusterError(`ESPCAP_ES_HOME must not be ${cacheDir}`);
  const runDir = path.join(cacheDir, instance);
  return {
    product: PRODUCT,
    instance,
    version,
    cacheDir,
    zipPath: path.join(cacheDir, `${PRODUCT.name}-${version}.zip`),
    distDir: path.join(cacheDir, `${PRODUCT.name}-${version}`),
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
function defaultHeap(): string {
  const mb = Math.floor(os.totalmem() / 4 / 1024 / 1024);
  return `${Math.max(1024, Math.min(4096, mb))}m`;
}

// ------------------------------------------------------------------- state

/** The state file of a launched instance: what stop, kill, reuse and status go by. */
interface State {
  pid: number;
  url: string;
  httpPort: number;
  transportPort: number;
  clusterName: string;
  version: string;
  cacheDir: string;
  distDir: string;
  confDir: string;
  runDir: string;
  user: string;
  java: string;
  startedAt: string;
}

function readState(cfg: Config): State | null {
  try {
    const st = JSON.parse(fs.readFileSync(cfg.statePath, 'utf8'));
    return st && Number.isInteger(st.pid) ? st : null;
  } catch {
    return null;
  }
}

function removeState(cfg: Config): void {
  fs.rmSync(cfg.statePath, { force: true });
}

/**
 * The processes of the instance whose config dir is confDir. The server JVM
 * names its config dir on its command line; the launcher runs the shared
 * distribution's script with the config dir in its environment (several
 * instances share one distribution).
 */
function instance(st: { pid: number; confDir: string; distDir: string }): Instance {
  const launcher = path.join(st.distDir, 'bin', PRODUCT.name);
  return {
    pid: st.pid,
    name: PRODUCT.name,
    owns(pid) {
      const cmdline = procCmdline(pid);
      if (cmdline.includes(`es.path.conf=${st.confDir}`)) return true;
      return cmdline.includes(launcher) && procEnviron(pid).includes(`ES_PATH_CONF=${st.confDir}`);
    },
  };
}

/** The instance of a state file, or (pid -1) the strays of cfg's run dir; older state files may lack the dirs. */
function recorded(st: State | null, cfg: Config): Instance {
  return instance(st ? { pid: st.pid, confDir: st.confDir || cfg.confDir, distDir: st.distDir || cfg.distDir } : { pid: -1, confDir: cfg.confDir, distDir: cfg.distDir });
}

/** A healthy instance of this harness's cluster, of the wanted version, answers at url. */
async function healthyInstance(url: string, version?: string, clusterName = CLUSTER_NAME): Promise<boolean> {
  if (!(await healthy(url))) return false;
  // Not GET /: the integ-test-zip lacks the rest-root module that serves it.
  const r = await httpGet(`${url}/_nodes/_local?filter_path=cluster_name,nodes.*.version`);
  const info = r.status === 200 ? parseJson(r.body) : null;
  const node: any = info && info.nodes ? Object.values(info.nodes)[0] : null;
  return !!info && info.cluster_name === clusterName && (!version || (!!node && node.version === version));
}

// ------------------------------------------------------------------ launch

interface Ports {
  http: number;
  transport: number;
}

/** Absent for the single-node cluster; for a node of a multi-node cluster, the cluster, the node and all nodes. */
interface Topology {
  clusterName: string;
  nodeName: string;
  /** Transport addresses of all nodes. */
  seedHosts: string[];
  nodeNames: string[];
}

function yamlString(s: string): string {
  return JSON.stringify(s);
}

/** elasticsearch.yml of one node, over a fresh copy of the distribution's config dir. */
function writeConfig(cfg: Config, ports: Ports, topology: Topology | null): void {
  fs.cpSync(path.join(cfg.distDir, 'config'), cfg.confDir, { recursive: true });
  const modules = path.join(cfg.distDir, 'modules');
  const lines = [
    "# Written by espcap's test-cluster harness (test/cluster); recreated on every start.",
    `cluster.name: ${topology ? topology.clusterName : CLUSTER_NAME}`,
    `node.name: ${topology ? topology.nodeName : 'espcap-test-node'}`,
    'network.host: 127.0.0.1',
    `http.port: ${ports.http}`,
    `transport.port: ${ports.transport}`,
    ...(topology
      ? [`discovery.seed_hosts: ${JSON.stringify(topology.seedHosts)}`, `cluster.initial_master_nodes: ${JSON.stringify(topology.nodeNames)}`]
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

/** The last n lines of the instance's console output, or else of its server log. */
function logTail(cfg: Config, n = 20): string[] {
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

/** The launcher's environment: ours without the Java and Elasticsearch settings a user may have, plus the instance's. */
function esEnv(cfg: Config, java: Java): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
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

/** The command that runs bin/elasticsearch, as the service user when root. */
function launchCommand(cfg: Config, user: User | null): [string, string[]] {
  const bin = path.join(cfg.distDir, 'bin', PRODUCT.name);
  if (!user) return [bin, []];
  const setpriv = which('setpriv');
  if (setpriv) return [setpriv, [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--', bin]];
  const runuser = which('runuser');
  if (runuser) return [runuser, ['-u', SERVICE_USER, '--', bin]];
  throw new ClusterError(`running as root and found neither setpriv nor runuser to run elasticsearch as ${SERVICE_USER}`);
}

/** A launched instance, and what became of its launcher so far. */
interface Launched {
  cfg: Config;
  st: State;
  launched: { exited: string | null; spawnError: Error | null };
}

/**
 * Starts the instance's server process (as the service user when root) with
 * the given ports, and records it in its state file. Does not wait for it.
 */
function launch(cfg: Config, log: Log, ports: Ports, topology: Topology | null, java: Java, user: User | null): Launched {
  for (const d of [cfg.runDir, cfg.dataDir, cfg.logsDir, cfg.tmpDir]) fs.mkdirSync(d, { recursive: true, mode: 0o755 });
  writeConfig(cfg, ports, topology);
  const out = fs.openSync(cfg.consoleLog, 'a', 0o644);
  if (user) {
    ensureReachable(cfg.cacheDir, user, log);
    chownTree(cfg.runDir, user);
  }
  const url = `http://127.0.0.1:${ports.http}`;
  const [cmd, args] = launchCommand(cfg, user);
  log(`starting elasticsearch ${cfg.version} ${topology ? `node ${topology.nodeName} ` : ''}at ${url}${user ? ` as user ${SERVICE_USER}` : ''} (logs in ${cfg.runDir})`);
  let child: cp.ChildProcess;
  try {
    // Detached: a process group of its own, to stop as one, outliving this process.
    child = cp.spawn(cmd, args, { cwd: cfg.runDir, env: esEnv(cfg, java), detached: true, stdio: ['ignore', out, out] });
  } finally {
    fs.closeSync(out);
  }
  const launched: Launched['launched'] = { exited: null, spawnError: null };
  child.on('exit', (code, sig) => (launched.exited = sig ? `killed by ${sig}` : `exit code ${code}`));
  child.on('error', (e) => (launched.spawnError = e));
  child.unref();
  const st: State = {
    // No pid if it could not be spawned: waitHealthy reports that.
    pid: child.pid ?? -1,
    url,
    httpPort: ports.http,
    transportPort: ports.transport,
    clusterName: topology ? topology.clusterName : CLUSTER_NAME,
    version: cfg.version,
    cacheDir: cfg.cacheDir,
    distDir: cfg.distDir,
    confDir: cfg.confDir,
    runDir: cfg.runDir,
    user: user ? SERVICE_USER : os.userInfo().username,
    java: java.home,
    startedAt: new Date().toISOString(),
  };
  fs.writeFileSync(cfg.statePath, JSON.stringify(st, null, 2) + '\n');
  return { cfg, st, launched };
}

/** Waits until every launched instance answers healthy at `healthUrl`; stops them all if one dies or time runs out. */
async function waitHealthy(instances: Launched[], healthUrl: string, log: Log, nodes = 1): Promise<void> {
  const t0 = Date.now();
  let lastSaid = 0;
  const giveUp = async (why: string): Promise<never> => {
    for (const { cfg, st } of instances) {
      await stopInstance(instance(st), () => {}, 15_000); // the server JVM may outlive the launcher
      removeState(cfg);
    }
    for (const { cfg } of instances) {
      const tail = logTail(cfg);
      if (tail.length) process.stderr.write(tail.join('\n') + '\n');
    }
    throw new ClusterError(`${why}; logs in ${instances.map(({ cfg }) => cfg.runDir).join(', ')}`);
  };
  // (A launcher that could not be spawned says so in its error event, on the next tick.)
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

/**
 * Stops what runs of an earlier start of this instance. Returns its ports if
 * it is to come back with its data (after kill()); otherwise its run dir is
 * removed and the result is null.
 */
async function retire(cfg: Config, log: Log, keepData: boolean): Promise<Ports | null> {
  const old = readState(cfg);
  let ports: Ports | null = null;
  if (old) {
    await stopInstance(recorded(old, cfg), log, 20_000);
    if (keepData && old.httpPort) ports = { http: old.httpPort, transport: old.transportPort };
    removeState(cfg);
  }
  // Strays of this instance without a state file.
  await stopInstance(recorded(null, cfg), log, 20_000);
  if (!ports) fs.rmSync(cfg.runDir, { recursive: true, force: true });
  return ports;
}

async function startLocked(cfg: Config, log: Log, keepData: boolean): Promise<{ url: string; pid: number; reused: boolean }> {
  // Reuse a healthy instance of this harness.
  const old = readState(cfg);
  if (old && pidAlive(old.pid) && old.version === cfg.version && (await healthyInstance(old.url, cfg.version))) {
    log(`elasticsearch ${cfg.version} already running (pid ${old.pid})`);
    return { url: old.url, pid: old.pid, reused: true };
  }
  let ports = await retire(cfg, log, keepData);
  const java = jdk.pickJava(PRODUCT, cfg.version);
  log(`using Java ${java.version} at ${java.home}`);
  const user = ensureServiceUser(log);
  ensureDist(cfg, log);
  if (user) chownTree(cfg.distDir, user);
  if (!ports) {
    const http = await freePort(9250, 9299, []);
    ports = { http, transport: await freePort(9350, 9399, [http]) };
  }
  const { st, launched } = launch(cfg, log, ports, null, java, user);
  await waitHealthy([{ cfg, st, launched }], st.url, log);
  return { url: st.url, pid: st.pid, reused: false };
}

// --------------------------------------------------------------------- API

export interface StartOptions {
  /** No progress lines on stderr. */
  quiet?: boolean;
  /** Bring back the instance kill() crashed, with its data and address, instead of a fresh one. */
  keepData?: boolean;
}

export interface Started {
  url: string;
  /** Stops this instance (a no-op if another one has replaced it). */
  stop(): Promise<void>;
  /** It was running already, healthy, of the wanted version: not started by this call. */
  reused: boolean;
}

/**
 * Start (or reuse) the local single-node Elasticsearch: a fresh, empty
 * cluster in <cache>/run unless keepData.
 */
export async function start({ quiet = false, keepData = false }: StartOptions = {}): Promise<Started> {
  const cfg = config();
  const log = logger(quiet);
  const got = await withLock(cfg.lockPath, log, () => startLocked(cfg, log, keepData));
  const stopThis = async () => {
    await withLock(cfg.lockPath, log, async () => {
      const st = readState(cfg);
      if (!st || st.pid !== got.pid) return;
      await stopInstance(instance(st), log);
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
export async function kill({ quiet = false }: { quiet?: boolean } = {}): Promise<boolean> {
  const cfg = config();
  const log = logger(quiet);
  return withLock(cfg.lockPath, log, async () => {
    const st = readState(cfg);
    return st ? killInstance(instance(st), log, `elasticsearch (pid ${st.pid})`) : false;
  });
}

/** Stop the local Elasticsearch if this harness started one (SIGTERM, up to 60 s, then SIGKILL). */
export async function stop({ quiet = false }: { quiet?: boolean } = {}): Promise<void> {
  const cfg = config();
  const log = logger(quiet);
  await withLock(cfg.lockPath, log, async () => {
    const stopped = await stopInstance(recorded(readState(cfg), cfg), log);
    removeState(cfg);
    if (!stopped) log('elasticsearch is not running');
  });
}

export type Status = { running: false; healthy: false } | { running: true; healthy: boolean; url: string; pid: number; version: string };

/** Whether the local Elasticsearch runs, and is healthy. */
export async function status(): Promise<Status> {
  const cfg = config();
  const st = readState(cfg);
  if (!st || !pidAlive(st.pid)) return { running: false, healthy: false };
  return { running: true, healthy: await healthyInstance(st.url), url: st.url, pid: st.pid, version: st.version };
}

export interface ClusterOptions {
  /** Number of nodes (3). */
  nodes?: number;
  quiet?: boolean;
  /** JVM heap of each node ('512m'). */
  heap?: string;
  /** Elasticsearch release (ESPCAP_ES_VERSION, or the default); another than the default gets run dirs of its own. */
  version?: string;
}

/** A running multi-node test cluster; nodes are numbered from 0. */
export interface TestCluster {
  /** HTTP address of each node. */
  urls: string[];
  /** Crashes node i (SIGKILL); its data stays. */
  kill(i: number): Promise<void>;
  /** Stops node i the orderly way (SIGTERM). */
  stop(i: number): Promise<void>;
  /** Starts the given stopped nodes (default: all) again and waits until the whole cluster is back. */
  start(which?: number[]): Promise<void>;
  /** Stops every node and removes the cluster's data. */
  close(): Promise<void>;
}

/**
 * A cluster of `nodes` Elasticsearch processes on loopback, for fault tests:
 * one cluster ("espcap-test-<nodes>"), each node master-eligible with its own
 * data, fresh on every start. Returns the node URLs and controls to crash
 * (SIGKILL), stop and start nodes again with their data and addresses.
 */
export async function startCluster({ nodes = 3, quiet = false, heap = '512m', version = undefined }: ClusterOptions = {}): Promise<TestCluster> {
  const log = logger(quiet);
  const clusterName = `espcap-test-${nodes}`;
  // Another release than the default gets run dirs of its own.
  const dir = version ? `cluster-${version}-${nodes}` : `cluster-${nodes}`;
  const cfgs: Config[] = Array.from({ length: nodes }, (_, i) => ({ ...config(`${dir}/node-${i + 1}`, version), heap }));
  const names = cfgs.map((_, i) => `node-${i + 1}`);
  const ports: Ports[] = [];
  let java: Java;
  let user: User | null;
  const launchNode = (i: number): Launched =>
    launch(cfgs[i], log, ports[i], { clusterName, nodeName: names[i], seedHosts: ports.map((p) => `127.0.0.1:${p.transport}`), nodeNames: names }, java, user);
  await withLock(cfgs[0].lockPath, log, async () => {
    for (const cfg of cfgs) await retire(cfg, log, false);
    java = jdk.pickJava(PRODUCT, cfgs[0].version);
    user = ensureServiceUser(log);
    ensureDist(cfgs[0], log);
    if (user) chownTree(cfgs[0].distDir, user);
    const taken: number[] = [];
    for (let i = 0; i < nodes; i++) {
      const http = await freePort(9400, 9449, taken);
      const transport = await freePort(9450, 9499, [...taken, http]);
      taken.push(http, transport);
      ports.push({ http, transport });
    }
    await waitHealthy(
      cfgs.map((_, i) => launchNode(i)),
      `http://127.0.0.1:${ports[0].http}`,
      log,
      nodes,
    );
  });
  const urls = ports.map((p) => `http://127.0.0.1:${p.http}`);
  return {
    urls,
    async kill(i) {
      const st = readState(cfgs[i]);
      if (st) await killInstance(instance(st), log, names[i]);
    },
    async stop(i) {
      const st = readState(cfgs[i]);
      if (st) await stopInstance(instance(st), log);
    },
    async start(which = names.map((_, i) => i)) {
      await waitHealthy(which.map(launchNode), urls[which[0]], log, nodes);
    },
    async close() {
      for (let i = 0; i < nodes; i++) {
        const st = readState(cfgs[i]);
        if (st) await stopInstance(instance(st), log);
        removeState(cfgs[i]);
      }
      fs.rmSync(path.dirname(cfgs[0].runDir), { recursive: true, force: true });
    },
  };
}

/** The JDK Elasticsearch `version` would run on here; throws, saying what to install, if there is none. */
export function pickJava(version: string): Java {
  return jdk.pickJava(PRODUCT, version);
}
