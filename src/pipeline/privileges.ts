// Live capture opens the interface as root and dissects as an unprivileged
// user: the account is looked up before the interface is opened, and root is
// given up once it is open, before any packet is dissected.
import { execFileSync } from 'node:child_process';
import { EspcapError, UsageError } from '../errors';

export interface Account {
  /** As given to --user: a name or a numeric uid. */
  name: string;
  uid: number;
  gid: number;
}

/**
 * The account --user names, through the system's own user database (getent
 * asks NSS: local files, LDAP, SSSD alike). A numeric uid is taken as it is;
 * its group is the database's if it has an entry, else the same number.
 */
export function lookUpUser(name: string): Account {
  const numeric = /^\d+$/.test(name);
  const entry = passwdEntry(name);
  if (!entry && !numeric) throw new UsageError(`--user ${name}: no such user`);
  const uid = entry ? entry.uid : Number(name);
  if (uid === 0) throw new UsageError(`--user ${name} is root: packets are never dissected as root; name an unprivileged user`);
  return { name, uid, gid: entry ? entry.gid : uid };
}

/** uid and gid of the passwd entry for a name or uid, or undefined when there is none. */
function passwdEntry(key: string): { uid: number; gid: number } | undefined {
  let line: string;
  try {
    line = execFileSync('getent', ['passwd', key], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (err) {
    // getent exits 2 when the key is not found.
    if ((err as { status?: number }).status === 2) return undefined;
    throw new EspcapError(`--user ${key}: cannot look the user up (getent: ${(err as Error).message.split('\n')[0]})`);
  }
  const fields = line.split('\n')[0].split(':');
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

export function dropPrivileges(account: Account): void {
  process.setgroups!([account.gid]);
  process.setgid!(account.gid);
  process.setuid!(account.uid);
  if (process.getuid!() === 0 || process.geteuid!() === 0) throw new EspcapError(`could not drop root privileges to ${account.name}`);
}
