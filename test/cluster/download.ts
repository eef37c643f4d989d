// The server's distribution: the product's Maven artifact, a zip, fetched
// once with `mvn dependency:copy` into the cache dir and unzipped beside it.
// Every instance of that release runs from the one unzipped copy.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ClusterError, Log, lastLines } from './common';
import { run, which } from './process';
import { Product } from './product';

/** One release of a product in the cache dir. */
export interface Distribution {
  product: Product;
  version: string;
  cacheDir: string;
  /** The artifact as fetched: <cacheDir>/<name>-<version>.zip. */
  zipPath: string;
  /** The unzipped distribution: <cacheDir>/<name>-<version>. */
  distDir: string;
}

/** Maven coordinates of the distribution. */
export function coordinates(product: Product, version: string): string {
  return `${product.groupId}:${product.artifactId}:${version}:zip`;
}

/** Where `mvn dependency:get` leaves the artifact in the local repository. */
function localRepositoryPath(product: Product, version: string): string {
  return path.join(os.homedir(), '.m2', 'repository', ...product.groupId.split('.'), product.artifactId, version, `${product.artifactId}-${version}.zip`);
}

function findFile(dir: string, pred: (name: string) => boolean): string | null {
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
function ensureZip(d: Distribution, log: Log): void {
  if (fs.existsSync(d.zipPath) && fs.statSync(d.zipPath).size > 0) return;
  const coords = coordinates(d.product, d.version);
  const mvn = which('mvn');
  if (!mvn) throw new ClusterError(`mvn not found: install Maven, or put ${path.basename(d.zipPath)} (${coords}) into ${d.cacheDir}`);
  log(`fetching ${coords} with mvn (first time only)`);
  const tmp = fs.mkdtempSync(path.join(d.cacheDir, '.fetch-'));
  try {
    let r = run(mvn, ['-B', '-q', 'dependency:copy', `-Dartifact=${coords}`, `-DoutputDirectory=${tmp}`], { cwd: tmp });
    let zip = r.status === 0 ? findFile(tmp, (n) => n.endsWith('.zip')) : null;
    if (!zip) {
      // Older plugin versions want a project for copy; get it into the local repository instead.
      const r2 = run(mvn, ['-B', '-q', 'dependency:get', `-Dartifact=${coords}`, '-Dtransitive=false'], { cwd: tmp });
      const local = localRepositoryPath(d.product, d.version);
      if (r2.status === 0 && fs.existsSync(local)) zip = local;
      else {
        if (r2.status !== 0) r = r2;
        const tail = lastLines(`${r.stdout}\n${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, ''), 20);
        if (tail.length) process.stderr.write(tail.join('\n') + '\n');
        throw new ClusterError(`mvn could not fetch ${coords} (${r.error ? r.error.message : `exit ${r.status}`})`);
      }
    }
    // Copied under a temporary name and renamed: a zip in the cache is whole.
    const part = `${d.zipPath}.part-${process.pid}`;
    fs.copyFileSync(zip, part);
    fs.renameSync(part, d.zipPath);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Make every file in a bin/ dir executable (python's zipfile drops the modes). */
function fixModes(dir: string): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) fixModes(p);
    else if (e.isFile() && path.basename(dir) === 'bin') fs.chmodSync(p, 0o755);
  }
}

/** The unzipped distribution in the cache dir (fetched first if need be). */
export function ensureDist(d: Distribution, log: Log): void {
  // Written last: a distDir without it is a half-done unzip, redone.
  const marker = path.join(d.distDir, '.espcap-unzipped');
  if (fs.existsSync(marker)) return;
  ensureZip(d, log);
  log(`unzipping ${path.basename(d.zipPath)}`);
  const tmp = fs.mkdtempSync(path.join(d.cacheDir, '.unzip-'));
  try {
    const unzip = which('unzip');
    const python = which('python3');
    let r;
    if (unzip) r = run(unzip, ['-q', '-o', d.zipPath, '-d', tmp]);
    else if (python) r = run(python, ['-m', 'zipfile', '-e', d.zipPath, tmp]);
    else throw new ClusterError('neither unzip nor python3 found: install unzip');
    if (r.status !== 0) {
      fs.rmSync(d.zipPath, { force: true }); // probably damaged; fetch it again next time
      throw new ClusterError(`cannot unzip ${d.zipPath}: ${lastLines(r.stderr || r.stdout, 1)[0] || `exit ${r.status}`}`);
    }
    const name = d.product.name;
    const top = fs.readdirSync(tmp).filter((n) => fs.existsSync(path.join(tmp, n, 'bin', name)));
    if (top.length !== 1) throw new ClusterError(`${d.zipPath} does not contain an ${name} distribution`);
    fixModes(path.join(tmp, top[0]));
    fs.rmSync(d.distDir, { recursive: true, force: true });
    fs.renameSync(path.join(tmp, top[0]), d.distDir);
    fs.writeFileSync(marker, `${coordinates(d.product, d.version)}\n`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
