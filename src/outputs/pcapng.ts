// Packets written as a pcapng file Wireshark opens: one section, one
// interface per link type met (timestamps in nanoseconds), each packet an
// Enhanced Packet Block with its original bytes, lengths and time.
// (pcapng: IETF draft-ietf-opsawg-pcapng.)
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface PcapngPacket {
  /** pcap LINKTYPE_ value. */
  linkType: number;
  seconds: number;
  nanoseconds: number;
  /** Bytes on the wire. */
  length: number;
  data: Buffer;
}

const SECTION_HEADER = 0x0a0d0d0a;
const INTERFACE_DESCRIPTION = 0x00000001;
const ENHANCED_PACKET = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const OPT_SHB_USERAPPL = 4;
const OPT_IF_TSRESOL = 9;

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** One block: type, total length, body (its parts one after the other, padded to 4 bytes), total length again. */
function block(type: number, ...body: Buffer[]): Buffer {
  const bodyLength = body.reduce((n, part) => n + part.length, 0);
  const length = 12 + pad4(bodyLength);
  const out = Buffer.alloc(length);
  out.writeUInt32LE(type, 0);
  out.writeUInt32LE(length, 4);
  let at = 8;
  for (const part of body) at += part.copy(out, at);
  out.writeUInt32LE(length, length - 4);
  return out;
}

/** An option: code, length, value padded to 4 bytes. */
function option(code: number, value: Buffer): Buffer {
  const out = Buffer.alloc(4 + pad4(value.length));
  out.writeUInt16LE(code, 0);
  out.writeUInt16LE(value.length, 2);
  value.copy(out, 4);
  return out;
}

const END_OF_OPTIONS = Buffer.alloc(4, 0); // opt_endofopt: code 0, length 0

export class PcapngWriter {
  private readonly interfaces = new Map<number, number>();
  private pending: Buffer[] = [];
  written = 0;

  /** Writes into `partial`, which close() renames to `file`: the file appears whole or not at all (a stream: both undefined). */
  private constructor(private readonly fd: number, private readonly partial: string | undefined, private readonly file: string | undefined, application: string) {
    const head = Buffer.alloc(16);
    head.writeUInt32LE(BYTE_ORDER_MAGIC, 0);
    head.writeUInt16LE(1, 4); // major version
    head.writeUInt16LE(0, 6); // minor version
    head.writeBigInt64LE(-1n, 8); // section length not given
    this.pending.push(block(SECTION_HEADER, head, option(OPT_SHB_USERAPPL, Buffer.from(application)), END_OF_OPTIONS));
  }

  /** Writes to an open stream (standard output: `wireshark -k -i -` reads it as it comes). */
  static toStream(fd: number, application: string): PcapngWriter {
    return new PcapngWriter(fd, undefined, undefined, application);
  }

  static create(file: string, application: string): PcapngWriter {
    const partial = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.partial`);
    return new PcapngWriter(fs.openSync(partial, 'w'), partial, file, application);
  }

  add(packet: PcapngPacket): void {
    let id = this.interfaces.get(packet.linkType);
    if (id === undefined) {
      id = this.interfaces.size;
      this.interfaces.set(packet.linkType, id);
      const head = Buffer.alloc(8);
      head.writeUInt16LE(packet.linkType, 0);
      head.writeUInt32LE(0, 4); // snap length: none
      this.pending.push(block(INTERFACE_DESCRIPTION, head, option(OPT_IF_TSRESOL, Buffer.from([9])), END_OF_OPTIONS));
    }
    const ns = BigInt(packet.seconds) * 1_000_000_000n + BigInt(packet.nanoseconds);
    const head = Buffer.alloc(20);
    head.writeUInt32LE(id, 0);
    head.writeUInt32LE(Number(ns >> 32n), 4);
    head.writeUInt32LE(Number(ns & 0xffffffffn), 8);
    head.writeUInt32LE(packet.data.length, 12);
    head.writeUInt32LE(packet.length, 16);
    this.pending.push(block(ENHANCED_PACKET, head, packet.data));
    this.written++;
  }

  /** Writes what was added since the last flush. */
  flush(): void {
    if (this.pending.length === 0) return;
    const data = Buffer.concat(this.pending);
    this.pending = [];
    let at = 0;
    while (at < data.length) at += fs.writeSync(this.fd, data, at);
  }

  /** Writes the rest and puts the file in its place. */
  close(): void {
    this.flush();
    if (this.partial === undefined || this.file === undefined) return;
    fs.closeSync(this.fd);
    fs.renameSync(this.partial, this.file);
  }

  /** Leaves nothing behind (a run that failed). */
  discard(): void {
    if (this.partial === undefined) return;
    try {
      fs.closeSync(this.fd);
    } catch {
      // closed already (close() failed at the rename)
    }
    fs.rmSync(this.partial, { force: true });
  }
}
