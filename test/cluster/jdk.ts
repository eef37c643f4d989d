// The JDK to run the server with. The integ-test zip carries none, so one is
// taken from ESPCAP_JAVA_HOME or found on this machine.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ClusterError } from './common';
import { run, which } from './process';
import { Product } from './product';

export interface Java {
  home: string;
  major: number;
  /** As the JDK states it, e.g. "17.0.13". */
  version: string;
}

/** The major and version of the JDK at home, or null if it has no runnable bin/java. */
function javaMajor(home: string): { major: number; version: string } | null {
  const java = path.join(home, 'bin', 'java');
  try {
    fs.accessSync(java, fs.constants.X_OK);
  } catch {
    return null;
  }
  // The release file spares starting a JVM.
  let v: string | null = null;
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
  // "1.8.0_402" is Java 8.
  return { major: parts[0] === 1 ? parts[1] : parts[0], version: v };
}

/** The JDK to run release `version` of `product` with. */
export function pickJava(product: Product, version: string): Java {
  const MIN_JAVA = product.minJava(version);
  const forced = process.env.ESPCAP_JAVA_HOME;
  if (forced) {
    const j = javaMajor(forced);
    if (!j) throw new ClusterError(`ESPCAP_JAVA_HOME=${forced} has no bin/java`);
    if (j.major < MIN_JAVA) throw new ClusterError(`ESPCAP_JAVA_HOME=${forced} is Java ${j.version}; ${product.name} needs ${MIN_JAVA} or newer`);
    return { home: forced, ...j };
  }
  const homes: string[] = [];
  for (const root of ['/usr/lib/jvm', '/Library/Java/JavaVirtualMachines']) {
    let names: string[] = [];
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
  const rank = (m: number) => (m === 21 ? 0 : m === 17 ? 1 : (m - 17) % 4 === 0 ? 1000 - m : 2000 - m);
  // (Elasticsearch 9 needs 21: on a machine with 17 and 25, that is 25.)
  const seen = new Set<string>();
  const found: Java[] = [];
  for (const h of homes) {
    let real: string;
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
    throw new ClusterError(
      `no Java ${MIN_JAVA} or newer found in /usr/lib/jvm for ${product.title} ${version}; install openjdk-${MIN_JAVA}-jre-headless or set ESPCAP_JAVA_HOME`,
    );
  return found[0];
}
