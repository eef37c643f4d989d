#!/usr/bin/env node
// Damaged variants of capture files, deterministic for a seed: bit flips in
// packet data, truncation, wrong record and block lengths, wrong section and
// interface fields (if_tsresol), another link type, impossible timestamps. For the
// sanitizer run (scripts/sanitize.js); no dependencies.
//
//   node scripts/mutate-captures.js --seed S --count N --out DIR FILE...
//
// writes N variants, taking the files in turn, named
// NNNN-<file>-<mutations>.<ext>. Also the packets of captures as fuzzer seeds
// (the first byte picks the link type, see native/tools/fuzz_packet.cc):
//
//   node scripts/mutate-captures.js --packets --out DIR FILE...
'use strict';
const fs = require('node:fs');
const path = require('node:path');

/** mulberry32: a small seeded generator, the same numbers on every machine. */
function makeRng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    below: (n) => Math.floor(next() * n),
    pick: (list) => list[Math.floor(next() * list.length)],
    chance: (p) => next() < p,
  };
}

const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_IDB = 1;
const PCAPNG_OBSOLETE_PB = 2;
const PCAPNG_SPB = 3;
const PCAPNG_EPB = 6;

/**
 * The layout of a pcap or pcapng file, as far as it is intact: where the
 * header fields, records and blocks are. Null for anything else.
 */
function parseCapture(buf) {
  return parsePcap(buf) ?? parsePcapng(buf);
}

function parsePcap(buf) {
  if (buf.length < 24) return null;
  const magics = { a1b2c3d4: [true, false], d4c3b2a1: [false, false], a1b23c4d: [true, true], '4d3cb2a1': [false, true] };
  const found = magics[buf.readUInt32LE(0).toString(16).padStart(8, '0')];
  if (!found) return null;
  const [le] = found;
  const u32 = (at) => (le ? buf.readUInt32LE(at) : buf.readUInt32BE(at));
  const records = [];
  for (let at = 24; at + 16 <= buf.length; ) {
    const caplen = u32(at + 8);
    if (at + 16 + caplen > buf.length) break;
    records.push({ at, dataAt: at + 16, caplen, capAt: at + 8, origAt: at + 12, secAt: at, fracAt: at + 4, interfaceAt: null, linktypeIndex: 0 });
    at += 16 + caplen;
  }
  return { format: 'pcap', le, linktypes: [u32(20) & 0xffff], linktypeAts: [20], snaplenAts: [16], records, blocks: [] };
}

function parsePcapng(buf) {
  if (buf.length < 28 || buf.readUInt32LE(0) !== PCAPNG_SHB) return null;
  const bom = buf.readUInt32LE(8);
  if (bom !== 0x1a2b3c4d && bom !== 0x4d3c2b1a) return null;
  const le = bom === 0x1a2b3c4d;
  const u32 = (at) => (le ? buf.readUInt32LE(at) : buf.readUInt32BE(at));
  const u16 = (at) => (le ? buf.readUInt16LE(at) : buf.readUInt16BE(at));
  const blocks = [];
  const records = [];
  const linktypes = [];
  const linktypeAts = [];
  const snaplenAts = [];
  for (let at = 0; at + 12 <= buf.length; ) {
    const type = u32(at);
    const len = u32(at + 4);
    if (len < 12 || len % 4 || at + len > buf.length) break;
    blocks.push({ type, at, len });
    if (type === PCAPNG_IDB && len >= 20) {
      linktypes.push(u16(at + 8));
      linktypeAts.push(at + 8);
      snaplenAts.push(at + 12);
    } else if ((type === PCAPNG_EPB || type === PCAPNG_OBSOLETE_PB) && len >= 32) {
      const caplen = u32(at + 20);
      if (28 + caplen <= len - 4)
        records.push({ at, dataAt: at + 28, caplen, capAt: at + 20, origAt: at + 24, secAt: at + 12, fracAt: at + 16, interfaceAt: type === PCAPNG_EPB ? at + 8 : null, linktypeIndex: type === PCAPNG_EPB ? u32(at + 8) : u16(at + 8) });
    } else if (type === PCAPNG_SPB && len >= 16) {
      const caplen = Math.min(u32(at + 8), len - 16);
      records.push({ at, dataAt: at + 12, caplen, capAt: null, origAt: at + 8, secAt: null, fracAt: null, interfaceAt: null, linktypeIndex: 0 });
    }
    at += len;
  }
  return { format: 'pcapng', le, linktypes, linktypeAts, snaplenAts, records, blocks };
}

/** Values that break length and index arithmetic, around the original. */
function oddNumber(rng, original) {
  return rng.pick([
    0, 1, 2, 3, 4, 7, 8, 12, 16, 0x7f, 0x80, 0xff, 0xffff, 0x10000, 0x3ffff, 0x40000, 0x40001,
    0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff,
    (original + 1) >>> 0, (original - 1) >>> 0, (original + 4) >>> 0, (original - 4) >>> 0, (original * 2) >>> 0, original >>> 1,
  ]);
}

// Link types worth landing on: common, tunnelled, with pseudo-headers, and a few unknown.
const LINK_TYPES = [0, 1, 6, 8, 9, 10, 12, 50, 101, 104, 105, 107, 113, 114, 117, 119, 127, 129, 138, 139, 140, 141, 143, 147, 149, 152, 154, 163, 165, 177, 187, 189, 192, 195, 197, 201, 215, 220, 225, 227, 228, 229, 235, 239, 240, 247, 249, 252, 254, 256, 263, 266, 270, 272, 276, 281, 290, 0xfff, 0xffff];

/**
 * The mutations, each a function of (buf, layout, rng) that changes buf in
 * place and returns its name, or returns null where it does not apply.
 */
const MUTATIONS = {
  bitflip(buf, layout, rng) {
    const records = layout.records.filter((r) => r.caplen > 0);
    for (let n = 1 + rng.below(8); n > 0; n--) {
      let at;
      if (records.length) {
        const r = rng.pick(records);
        at = r.dataAt + rng.below(r.caplen);
      } else {
        at = rng.below(buf.length);
      }
      buf[at] ^= 1 << rng.below(8);
    }
    return 'bitflip';
  },
  smash(buf, layout, rng) {
    // A run of 0x00 or 0xff inside a packet: protocol length fields at their extremes.
    const records = layout.records.filter((r) => r.caplen > 0);
    if (!records.length) return null;
    const r = rng.pick(records);
    const at = r.dataAt + rng.below(r.caplen);
    buf.fill(rng.pick([0x00, 0xff, 0x7f, 0x80]), at, Math.min(at + 1 + rng.below(4), r.dataAt + r.caplen));
    return 'smash';
  },
  caplen(buf, layout, rng, w) {
    const records = layout.records.filter((r) => r.capAt !== null);
    if (!records.length) return null;
    const r = rng.pick(records);
    w.u32(r.capAt, oddNumber(rng, r.caplen));
    return 'caplen';
  },
  origlen(buf, layout, rng, w) {
    if (!layout.records.length) return null;
    const r = rng.pick(layout.records);
    w.u32(r.origAt, oddNumber(rng, r.caplen));
    return 'origlen';
  },
  blocklen(buf, layout, rng, w) {
    if (!layout.blocks.length) return null;
    const b = rng.pick(layout.blocks);
    const value = rng.chance(0.3) ? (b.len + rng.pick([1, 2, 3, -1, -2, -3])) >>> 0 : oddNumber(rng, b.len);
    const where = rng.below(3); // leading, trailing, both
    if (where !== 1) w.u32(b.at + 4, value);
    if (where !== 0) w.u32(b.at + b.len - 4, value);
    return 'blocklen';
  },
  section(buf, layout, rng, w) {
    const shbs = layout.blocks.filter((b) => b.type === PCAPNG_SHB);
    if (!shbs.length) return null;
    const shb = rng.pick(shbs);
    const field = rng.below(3);
    if (field === 0) w.u16(shb.at + 12, rng.pick([0, 1, 2, 0xffff])); // major version
    else if (field === 1) w.u16(shb.at + 14, rng.pick([0, 1, 2, 0xffff])); // minor version
    else w.u32(shb.at + 16 + 4 * rng.below(2), oddNumber(rng, 0)); // section length
    return 'section';
  },
  interface(buf, layout, rng, w) {
    const idbs = layout.blocks.filter((b) => b.type === PCAPNG_IDB && b.len >= 20);
    const epbs = layout.records.filter((r) => r.interfaceAt !== null);
    if (!idbs.length && !epbs.length) return null;
    if (epbs.length && (rng.chance(0.4) || !idbs.length)) {
      w.u32(rng.pick(epbs).interfaceAt, rng.pick([1, 2, 7, 255, 0xffff, 0xffffffff]));
      return 'interface-id';
    }
    const idb = rng.pick(idbs);
    if (idb.len > 24 && rng.chance(0.6)) {
      // An option: its code, its length, or its value (if_tsresol, if_tsoffset, ...).
      const at = idb.at + 16 + rng.below(idb.len - 20);
      buf[at] = rng.pick([0, 1, 9, 10, 14, 0x7f, 0x80, 0xff, rng.below(256)]);
      return 'interface-option';
    }
    w.u32(idb.at + 12, oddNumber(rng, 65535)); // snaplen
    return 'interface-snaplen';
  },
  linktype(buf, layout, rng, w) {
    if (!layout.linktypeAts.length) return null;
    const value = rng.chance(0.8) ? rng.pick(LINK_TYPES) : rng.below(300);
    const at = rng.pick(layout.linktypeAts);
    if (layout.format === 'pcap') w.u32(at, value);
    else w.u16(at, value);
    return 'linktype';
  },
  snaplen(buf, layout, rng, w) {
    if (layout.format !== 'pcap') return null;
    w.u32(layout.snaplenAts[0], oddNumber(rng, 65535));
    return 'snaplen';
  },
  time(buf, layout, rng, w) {
    const records = layout.records.filter((r) => r.secAt !== null);
    if (!records.length) return null;
    const r = rng.pick(records);
    // pcap: seconds and the fraction; pcapng: the high and low words of a 64-bit count.
    if (rng.chance(0.5)) w.u32(r.fracAt, rng.pick([0, 999999, 1000000, 999999999, 1000000000, 0x7fffffff, 0x80000000, 0xffffffff]));
    else w.u32(r.secAt, rng.pick([0, 0x7fffffff, 0x80000000, 0xffffffff]));
    return 'time';
  },
  truncate(buf, layout, rng) {
    if (buf.length < 2) return null;
    return { name: 'truncate', length: 1 + rng.below(buf.length - 1) };
  },
};

/**
 * The capture with the first pcapng interface's if_tsresol option set to
 * `value` (added if missing): timestamps in whole seconds (0), or in units
 * that turn 64-bit timestamps into the extremes of a 64-bit time.
 */
function withTsresol(buf, layout, value) {
  const idb = layout.blocks.find((b) => b.type === PCAPNG_IDB && b.len >= 20);
  if (!idb) return null;
  const u16 = (at) => (layout.le ? buf.readUInt16LE(at) : buf.readUInt16BE(at));
  for (let at = idb.at + 16; at + 4 <= idb.at + idb.len - 4; ) {
    const code = u16(at);
    const length = u16(at + 2);
    if (code === 0) break;
    if (code === 9 && length >= 1) {
      const copy = Buffer.from(buf);
      copy[at + 4] = value;
      return copy;
    }
    at += 4 + length + ((4 - (length % 4)) % 4);
  }
  // Not there: a new block with the option first, then the block's own options.
  const option = Buffer.alloc(8);
  const w16 = (b, at, v) => (layout.le ? b.writeUInt16LE(v, at) : b.writeUInt16BE(v, at));
  w16(option, 0, 9);
  w16(option, 2, 1);
  option[4] = value;
  const fixed = buf.subarray(idb.at, idb.at + 16);
  const rest = idb.len > 20 ? buf.subarray(idb.at + 16, idb.at + idb.len - 4) : Buffer.alloc(4); // its options, or opt_endofopt
  const block = Buffer.concat([fixed, option, rest, Buffer.alloc(4)]);
  const w32 = (at, v) => (layout.le ? block.writeUInt32LE(v, at) : block.writeUInt32BE(v, at));
  w32(4, block.length);
  w32(block.length - 4, block.length);
  return Buffer.concat([buf.subarray(0, idb.at), block, buf.subarray(idb.at + idb.len)]);
}

/** One variant of `original` (a Buffer): its bytes and the names of what was done to it. */
function mutate(original, rng) {
  let buf = Buffer.from(original);
  let layout = parseCapture(buf);
  const done = [];
  // Changes the layout, so before the others.
  if (layout?.format === 'pcapng' && rng.chance(0.2)) {
    const changed = withTsresol(buf, layout, rng.pick([0, 1, 3, 9, 19, 0x80, 0x81, 0xbf, 0xff]));
    if (changed) {
      buf = changed;
      layout = parseCapture(buf);
      done.push('tsresol');
    }
  }
  if (!layout) {
    const length = 1 + rng.below(Math.max(1, buf.length - 1));
    MUTATIONS.bitflip(buf, { records: [] }, rng);
    return { bytes: buf.subarray(0, length), mutations: ['bitflip', 'truncate'] };
  }
  const w = {
    u32: (at, v) => (layout.le ? buf.writeUInt32LE(v >>> 0, at) : buf.writeUInt32BE(v >>> 0, at)),
    u16: (at, v) => (layout.le ? buf.writeUInt16LE(v & 0xffff, at) : buf.writeUInt16BE(v & 0xffff, at)),
  };
  const names = Object.keys(MUTATIONS).filter((n) => n !== 'truncate');
  let length = buf.length;
  for (let n = done.length + 1 + rng.below(3), tries = 0; done.length < n && tries < 20; tries++) {
    const name = rng.chance(0.15) ? 'truncate' : rng.pick(names);
    const result = MUTATIONS[name](buf, layout, rng, w);
    if (result === null) continue;
    if (typeof result === 'object') {
      length = Math.min(length, result.length);
      done.push(result.name);
    } else {
      done.push(result);
    }
  }
  return { bytes: buf.subarray(0, length), mutations: done };
}

/** Writes `count` variants of `files` into `outDir`; returns [{file, base, mutations}]. */
function writeVariants(files, { seed, count, outDir }) {
  fs.mkdirSync(outDir, { recursive: true });
  const originals = files.map((f) => fs.readFileSync(f));
  const written = [];
  for (let i = 0; i < count; i++) {
    const k = i % files.length;
    // Each variant its own stream: variant i is the same whatever the count.
    const rng = makeRng((seed * 1000003 + i) >>> 0);
    const { bytes, mutations } = mutate(originals[k], rng);
    const base = path.basename(files[k]);
    const ext = base.match(/\.(pcapng|pcap|cap)(\.gz)?$/)?.[0] ?? '';
    const stem = base.slice(0, base.length - ext.length);
    const file = path.join(outDir, `${String(i).padStart(4, '0')}-${stem}-${[...new Set(mutations)].join('+')}${ext}`);
    fs.writeFileSync(file, bytes);
    written.push({ file, base, mutations });
  }
  return written;
}

// pcap link types the packet fuzzer dissects, and its index for each: the
// order of kLinks in native/tools/fuzz_packet.cc (the first type of an index
// is the one a fuzzer input is saved as).
const FUZZ_LINKS = new Map([[1, 0], [101, 1], [228, 1], [229, 1], [113, 2], [276, 3], [127, 4], [105, 5], [0, 6], [9, 7], [239, 8], [252, 9]]);

const UPPER_PDU = FUZZ_LINKS.get(252);
// Well-known ports and the dissector Wireshark has for them: their payloads
// also become upper-PDU inputs that name the dissector, which reaches it
// directly, whatever the packet around it.
const PORT_DISSECTORS = new Map([
  [53, 'dns'], [80, 'http'], [443, 'tls'], [123, 'ntp'], [161, 'snmp'], [67, 'dhcp'], [68, 'dhcp'], [5060, 'sip'],
  [389, 'ldap'], [88, 'kerberos'], [1812, 'radius'], [179, 'bgp'], [3868, 'diameter'], [2152, 'gtp'], [2123, 'gtpv2'],
  [500, 'isakmp'], [3478, 'stun'], [502, 'mbtcp'], [1883, 'mqtt'], [5353, 'mdns'], [137, 'nbns'], [445, 'nbss'],
  [139, 'nbss'], [21, 'ftp'], [25, 'smtp'], [6667, 'irc'], [22, 'ssh'], [3306, 'mysql'], [5432, 'pgsql'], [20000, 'dnp3'],
]);

/** The application payload of an Ethernet or raw IP packet, with its dissector by port, or null. */
function transportPayload(linkIndex, data) {
  let ip = linkIndex === 0 ? 14 : linkIndex === 1 ? 0 : -1;
  if (ip < 0 || data.length < ip + 40) return null;
  if (linkIndex === 0 && data.readUInt16BE(12) !== 0x0800 && data.readUInt16BE(12) !== 0x86dd) return null;
  let protocol, transport;
  if (data[ip] >> 4 === 4) [protocol, transport] = [data[ip + 9], ip + (data[ip] & 15) * 4];
  else if (data[ip] >> 4 === 6) [protocol, transport] = [data[ip + 6], ip + 40];
  else return null;
  if (transport + 20 > data.length) return null;
  let payload;
  if (protocol === 17) payload = transport + 8;
  else if (protocol === 6) payload = transport + (data[transport + 12] >> 4) * 4;
  else return null;
  const name = PORT_DISSECTORS.get(data.readUInt16BE(transport)) ?? PORT_DISSECTORS.get(data.readUInt16BE(transport + 2));
  return name && payload < data.length ? { name, payload: data.subarray(payload) } : null;
}

/** An upper-PDU packet: a dissector-name tag, the end tag, the payload. */
function upperPdu(name, payload) {
  const tag = Buffer.alloc(4 + name.length);
  tag.writeUInt16BE(12, 0); // EXP_PDU_TAG_DISSECTOR_NAME
  tag.writeUInt16BE(name.length, 2);
  tag.write(name, 4, 'latin1');
  return Buffer.concat([Buffer.from([UPPER_PDU]), tag, Buffer.alloc(4), payload]);
}

/** Each packet of a capture whose link type the fuzzer knows, as a fuzzer input. */
function fuzzerInputs(buf) {
  const layout = parseCapture(buf);
  if (!layout) return [];
  const inputs = [];
  for (const r of layout.records) {
    const linktype = layout.format === 'pcap' ? layout.linktypes[0] : layout.linktypes[r.linktypeIndex];
    const index = FUZZ_LINKS.get(linktype);
    if (index === undefined) continue;
    const data = buf.subarray(r.dataAt, r.dataAt + r.caplen);
    inputs.push(Buffer.concat([Buffer.from([index]), data]));
    const app = transportPayload(index, data);
    if (app) inputs.push(upperPdu(app.name, app.payload));
  }
  return inputs;
}

module.exports = { makeRng, parseCapture, mutate, writeVariants, fuzzerInputs, FUZZ_LINKS };

function main(argv) {
  const files = [];
  let seed = 1;
  let count = 100;
  let outDir = null;
  let packets = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--seed') seed = Number(argv[++i]);
    else if (a === '--count') count = Number(argv[++i]);
    else if (a === '--out') outDir = argv[++i];
    else if (a === '--packets') packets = true;
    else files.push(a);
  }
  if (!outDir || !files.length || !Number.isInteger(seed) || !Number.isInteger(count)) {
    console.error('usage: mutate-captures.js --seed S --count N --out DIR FILE...   |   --packets --out DIR FILE...');
    return 2;
  }
  if (packets) {
    fs.mkdirSync(outDir, { recursive: true });
    let n = 0;
    for (const f of files)
      fuzzerInputs(fs.readFileSync(f)).forEach((input, i) => {
        fs.writeFileSync(path.join(outDir, `${path.basename(f)}-${i}`), input);
        n++;
      });
    console.log(`${n} packets from ${files.length} captures in ${outDir}`);
  } else {
    const written = writeVariants(files, { seed, count, outDir });
    console.log(`${written.length} variants in ${outDir}`);
  }
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
