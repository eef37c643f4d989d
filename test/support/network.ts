// Private networks for live-capture tests: two network namespaces joined by a
// veth pair, with no address and IPv6 off, so the kernel sends nothing of its
// own and no packet can leave them. Captures are replayed into one end with
// tcpreplay; espcap captures on the other.
import { execFileSync, spawn, ChildProcess } from 'node:child_process';

function sh(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export class VethPair {
  readonly capture: string; // namespace where espcap captures, on interface `nic`
  readonly sender: string; // namespace where captures are replayed, on `peer`
  readonly nic = 'espcap0';
  readonly peer = 'espcap1';

  constructor(tag: string) {
    this.capture = `espcap-cap-${tag}-${process.pid}`;
    this.sender = `espcap-send-${tag}-${process.pid}`;
    for (const ns of [this.capture, this.sender]) {
      sh('ip', ['netns', 'add', ns]);
      sh('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    // MTU 65535: captures taken with segmentation offload hold frames far above 1500 bytes.
    sh('ip', ['link', 'add', this.nic, 'netns', this.capture, 'mtu', '65535', 'type', 'veth', 'peer', 'name', this.peer, 'netns', this.sender, 'mtu', '65535']);
    sh('ip', ['-n', this.capture, 'link', 'set', this.nic, 'up']);
    sh('ip', ['-n', this.sender, 'link', 'set', this.peer, 'up']);
  }

  /** Runs a command inside the capture namespace. */
  spawnInCapture(command: string, args: string[], options: { detached?: boolean } = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.capture, command, ...args], { detached: options.detached });
  }

  /** Replays a capture into the sender's end at `pps` packets per second; resolves when all are sent. */
  replay(file: string, pps: number): string {
    return sh('ip', ['netns', 'exec', this.sender, 'tcpreplay', '-q', `--pps=${pps}`, '-i', this.peer, file]);
  }

  remove(): void {
    for (const ns of [this.capture, this.sender]) {
      try {
        sh('ip', ['netns', 'del', ns]);
      } catch {
        // already gone
      }
    }
  }
}

/** Whether this machine lets the tests make namespaces (root, iproute2, tcpreplay). */
export function canMakeNetworks(): string | undefined {
  if (process.getuid!() !== 0) return 'live-capture tests need root (network namespaces)';
  for (const tool of ['ip', 'tcpreplay']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `live-capture tests need ${tool}`;
    }
  }
  return undefined;
}
