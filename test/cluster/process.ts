// Processes: running helper programs, finding a server instance's processes
// in /proc, stopping and killing them, the lock that makes concurrent starts
// and stops take turns, and the unprivileged system user the server runs as
// when the harness runs as root.
import * as cp from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ClusterError, Log, lastLines, sleep } from './common';

const STOP_TIMEOUT_MS = 60_000;
const LOCK_TIMEOUT_MS = 900_000;

function errorCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

// ---------------------------------------------------------------- programs

/** Executable `cmd` on PATH (plus the sbin dirs), or null. */
export function which(cmd: string): string | null {
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

export interface RunResult {
  /** Exit code; -1 if it could not be run, null if a signal ended it. */
  status: number | null;
  stdout: string;
  stderr: string;
  error?: Error;
}

export function run(cmd: string, args: string[], opts: { cwd?: string } = {}): RunResult {
  const r = cp.spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  return { status: r.error ? -1 : r.status, stdout: r.stdout || '', stderr: r.stderr || '', error: r.error };
}

// -------------------------------------------------------------------- /proc

const HAVE_PROC = fs.existsSync('/proc/self/stat');

/** {state, pgrp} of a pid from /proc, or null when it does not exist. */
function procStat(pid: number): { state: string; pgrp: number } | null {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0], pgrp: Number(rest[2]) };
  } catch {
    return null;
  }
}

/** The command line of pid, its arguments joined by spaces ('' if gone). */
export function procCmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/** The environment of pid as NAME=value strings ([] if gone or not readable). */
export function procEnviron(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

/** True if pid runs (a zombie does not count). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if (errorCode(e) !== 'EPERM') return false;
  }
  if (HAVE_PROC) {
    const st = procStat(pid);
    return st !== null && st.state !== 'Z' && st.state !== 'X';
  }
  return true;
}

// ---------------------------------------------------------------- instances

/**
 * One server instance's processes: the launcher `pid`, started as the leader
 * of a process group of its own (-1 when unknown: then only strays are looked
 * for), and `owns`, which tells this instance's processes from any other's
 * (the pid may have been reused; several instances share one distribution).
 */
export interface Instance {
  pid: number;
  /** The server's name in messages. */
  name: string;
  owns(pid: number): boolean;
}

/**
 * Live pids of the instance: its process group (the launcher and the server
 * JVM) and anything it owns.
 */
function instancePids(inst: Instance): number[] {
  if (!HAVE_PROC) {
    if (!(inst.pid > 0)) return [];
    try {
      process.kill(-inst.pid, 0);
      return [inst.pid];
    } catch (e) {
      return errorCode(e) === 'EPERM' ? [inst.pid] : [];
    }
  }
  const leaderOurs = pidAlive(inst.pid) && inst.owns(inst.pid);
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const ps = procStat(pid);
    if (!ps || ps.state === 'Z' || ps.state === 'X') continue;
    if ((leaderOurs && ps.pgrp === inst.pid) || inst.owns(pid)) pids.push(pid);
  }
  return pids;
}

function signal(inst: Instance, pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch (e) {
    if (errorCode(e) === 'EPERM') throw new ClusterError(`not allowed to signal ${inst.name} (pid ${pid}); run this as the user who started it`);
    return false;
  }
}

/** Crash an instance the way a failing machine would (SIGKILL), data kept. False if it was not running. */
export async function killInstance(inst: Instance, log: Log, what: string): Promise<boolean> {
  if (instancePids(inst).length === 0) return false;
  log(`killing ${what}`);
  for (const pid of instancePids(inst)) signal(inst, pid, 'SIGKILL');
  for (let i = 0; i < 100 && instancePids(inst).length; i++) await sleep(100);
  if (instancePids(inst).length) throw new ClusterError(`could not kill ${what} (pids ${instancePids(inst).join(' ')})`);
  return true;
}

/** Stop an instance: SIGTERM, wait up to timeoutMs, then SIGKILL. False if it was not running. */
export async function stopInstance(inst: Instance, log: Log, timeoutMs = STOP_TIMEOUT_MS): Promise<boolean> {
  let pids = instancePids(inst);
  if (pids.length === 0) return false;
  log(`stopping ${inst.name} (pid ${inst.pid})`);
  const t0 = Date.now();
  if (pids.includes(inst.pid)) {
    try {
      process.kill(-inst.pid, 'SIGTERM');
    } catch {
      // group gone or not ours; signal one by one below
    }
  }
  for (const pid of pids) signal(inst, pid, 'SIGTERM');
  while (Date.now() - t0 < timeoutMs) {
    await sleep(200);
    pids = instancePids(inst);
    if (pids.length === 0) {
      log(`stopped in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      return true;
    }
  }
  log(`still running after ${Math.round(timeoutMs / 1000)} s; sending SIGKILL`);
  for (const pid of pids) signal(inst, pid, 'SIGKILL');
  for (let i = 0; i < 50 && instancePids(inst).length; i++) await sleep(200);
  if (instancePids(inst).length) throw new ClusterError(`could not kill ${inst.name} (pids ${instancePids(inst).join(' ')})`);
  return true;
}

// --------------------------------------------------------------------- lock

/**
 * Runs fn holding the lock file lockPath (its directory created if missing),
 * so that concurrent starts and stops take turns. A lock whose holder died is
 * taken over.
 */
export async function withLock<T>(lockPath: string, log: Log, fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(path.dirname(lockPath), { recursive: true, mode: 0o755 });
  const t0 = Date.now();
  let said = false;
  for (;;) {
    try {
      const fd = fs.openSync(lockPath, 'wx', 0o644);
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      break;
    } catch (e) {
      if (errorCode(e) !== 'EEXIST') throw new ClusterError(`cannot create ${lockPath}: ${(e as Error).message}`);
    }
    let holder = NaN;
    let age = 0;
    try {
      holder = Number(fs.readFileSync(lockPath, 'utf8').trim());
      age = Date.now() - fs.statSync(lockPath).mtimeMs;
    } catch {
      continue; // just released
    }
    // A lock without a pid is being written, unless it is old.
    if (Number.isInteger(holder) && holder > 0 ? !pidAlive(holder) : age > 10_000) {
      fs.rmSync(lockPath, { force: true }); // stale
      continue;
    }
    if (Date.now() - t0 > LOCK_TIMEOUT_MS) throw new ClusterError(`timed out waiting for ${lockPath} (held by pid ${holder})`);
    if (!said) log(`waiting for another start/stop (pid ${holder}) to finish`);
    said = true;
    await sleep(300);
  }
  try {
    return await fn();
  } finally {
    try {
      if (fs.readFileSync(lockPath, 'utf8').trim() === String(process.pid)) fs.rmSync(lockPath, { force: true });
    } catch {
      // already gone
    }
  }
}

// --------------------------------------------------------------------- user

/**
 * Elasticsearch refuses to run as root: as root, the server runs as this
 * system user (created if missing), which owns the distribution and the run
 * dirs.
 */
export const SERVICE_USER = 'espcap-es';

export interface User {
  uid: number;
  gid: number;
}

function idOf(flag: '-u' | '-g'): number | null {
  const r = run('id', [flag, SERVICE_USER]);
  return r.status === 0 ? Number(r.stdout.trim()) : null;
}

/** As root: the unprivileged user to run the server as; otherwise null. */
export function ensureServiceUser(log: Log): User | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  if (idOf('-u') === null) {
    const useradd = which('useradd');
    if (!useradd) throw new ClusterError(`running as root and cannot create user ${SERVICE_USER}: useradd not found`);
    log(`creating system user ${SERVICE_USER} (elasticsearch refuses to run as root)`);
    const r = run(useradd, ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', SERVICE_USER]);
    // (Another start may have created it meanwhile.)
    if (r.status !== 0 && idOf('-u') === null) throw new ClusterError(`useradd ${SERVICE_USER} failed: ${lastLines(r.stderr, 1)[0] || `exit ${r.status}`}`);
  }
  const uid = idOf('-u');
  const gid = idOf('-g');
  if (uid === null || gid === null) throw new ClusterError(`cannot look up user ${SERVICE_USER}`);
  return { uid, gid };
}

/** Gives the tree at p to the user (symbolic links themselves, not what they point to). */
export function chownTree(p: string, user: User): void {
  const st = fs.lstatSync(p);
  if (st.uid !== user.uid || st.gid !== user.gid) fs.lchownSync(p, user.uid, user.gid);
  if (st.isDirectory()) for (const n of fs.readdirSync(p)) chownTree(path.join(p, n), user);
}

/**
 * The service user must be able to reach the cache dir: give search permission
 * (o+x, not read) on ancestors that lack it, such as a 0700 /root.
 */
export function ensureReachable(dir: string, user: User, log: Log): void {
  const chain: string[] = [];
  for (let d = dir; ; d = path.dirname(d)) {
    chain.unshift(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of chain) {
    const st = fs.statSync(d);
    const ok = st.uid === user.uid ? st.mode & 0o100 : st.gid === user.gid ? st.mode & 0o010 : st.mode & 0o001;
    if (!ok) {
      log(`granting search permission (o+x) on ${d} so that user ${SERVICE_USER} can reach ${dir}`);
      fs.chmodSync(d, (st.mode & 0o7777) | 0o001);
    }
  }
}
