// Progress of a run on stderr: on a terminal one line redrawn in place four
// times a second; otherwise (a log file, a pipe) a plain line every 10 s.
//
//   files 112/270 (1 failed)  packets 1,204,331  61.2k/s  bytes 2.1/5.6 GB  48.0 MB/s  ETA 1m13s

/** Rates are measured over this much recent time, so they follow changes. */
const WINDOW_MS = 5000;

export class Progress {
  private packets = 0;
  private bytes = 0;
  private filesRead = 0;
  private filesFailed = 0;
  private readonly samples: { at: number; packets: number; bytes: number }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private drawn = false;

  constructor(
    private readonly filesTotal: number,
    private readonly bytesTotal: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  start(now = Date.now()): void {
    const interactive = this.out.isTTY;
    this.samples.push({ at: now, packets: 0, bytes: 0 });
    this.timer = setInterval(() => this.show(interactive), interactive ? 250 : 10000);
    this.timer.unref();
  }

  add(packets: number, bytes: number): void {
    this.packets += packets;
    this.bytes += bytes;
  }

  fileRead(failed: boolean): void {
    this.filesRead++;
    if (failed) this.filesFailed++;
  }

  /** Removes the line from the terminal, so the summary follows cleanly. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.drawn) this.out.write('\r\x1b[K');
    this.drawn = false;
  }

  line(now = Date.now()): string {
    this.samples.push({ at: now, packets: this.packets, bytes: this.bytes });
    while (this.samples.length > 2 && now - this.samples[1].at >= WINDOW_MS) this.samples.shift();
    const first = this.samples[0];
    const seconds = Math.max(0.001, (now - first.at) / 1000);
    const packetRate = (this.packets - first.packets) / seconds;
    const byteRate = (this.bytes - first.bytes) / seconds;
    const left = this.bytesTotal - this.bytes;
    const eta = byteRate > 0 && left > 0 ? ` ETA ${duration(left / byteRate)}` : '';
    const failed = this.filesFailed ? ` (${this.filesFailed} failed)` : '';
    return (
      `files ${this.filesRead}/${this.filesTotal}${failed}  packets ${this.packets.toLocaleString('en-US')}  ${count(packetRate)}/s  ` +
      `bytes ${size(this.bytes)}/${size(this.bytesTotal)}  ${size(byteRate)}/s ${eta}`
    );
  }

  private show(interactive: boolean): void {
    const text = this.line();
    if (interactive) {
      // Cut to the terminal's width: a wrapped line cannot be redrawn in place.
      this.out.write(`\r\x1b[K${text.slice(0, (this.out.columns || 80) - 1)}`);
      this.drawn = true;
    } else {
      this.out.write(`espcap: ${text}\n`);
    }
  }
}

function count(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0);
}

export function size(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (bytes >= 1000 && i < units.length - 1) {
    bytes /= 1000;
    i++;
  }
  return `${bytes.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
