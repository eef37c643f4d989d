// A Wireshark display filter (as search/display-filter.ts reads it) turned
// into an Elasticsearch query over espcap's documents, with Wireshark's
// meaning: a field is at layers.<protocol>.<rest of the abbreviation> (the
// field registry gives each path), a field that occurs several times in a
// packet is an array there, and each comparison keeps Wireshark 4.0's rule
// for such fields (== any, != none, === all, !== some). Whatever has no
// exact equivalent is refused with the construct named (UntranslatableFilter):
// never a query that finds something else.
import { isIP } from 'node:net';
import type { ValueKind } from '../engine/engine';
import { Comparison, FilterNode, Literal, UntranslatableFilter } from './display-filter';

export type EsQuery = Record<string, unknown>;

/** What the translation needs to know of a field: its path(s) in documents and how the engine writes its values. */
export interface FieldInfo {
  /** Document paths holding the field's values: one, or two for the either-direction fields. */
  paths: string[];
  kind: ValueKind;
  /** A protocol (its filter name): present when the packet's `protocols` lists it. */
  protocol?: string;
}

/**
 * The fields Wireshark adds hidden, once per direction, and espcap leaves out
 * of documents (hidden items repeat shown ones): each is the union of the
 * shown pair, as Wireshark itself defines it.
 */
export const EITHER_DIRECTION: Readonly<Record<string, readonly [string, string]>> = {
  'ip.addr': ['ip.src', 'ip.dst'],
  'ipv6.addr': ['ipv6.src', 'ipv6.dst'],
  'eth.addr': ['eth.src', 'eth.dst'],
  'tcp.port': ['tcp.srcport', 'tcp.dstport'],
  'udp.port': ['udp.srcport', 'udp.dstport'],
  'sctp.port': ['sctp.srcport', 'sctp.dstport'],
};

/**
 * Fields Wireshark always adds hidden, so never in documents (espcap leaves
 * hidden items out), other than the either-direction ones: a test of them
 * would find nothing where Wireshark finds packets.
 */
const ALWAYS_HIDDEN = new Set(['_ws.expert.message']);

/** frame.time is every document's @timestamp, kept to the nanosecond (layers.frame.time is a date, to the millisecond). */
const FRAME_TIME = 'frame.time';
const TIMESTAMP = '@timestamp';

const INTEGER_KINDS: ValueKind[] = ['uint32', 'int32', 'uint64', 'int64'];
const NUMBER_KINDS: ValueKind[] = [...INTEGER_KINDS, 'float', 'seconds'];

export function translateFilter(tree: FilterNode, info: (abbrev: string) => FieldInfo): EsQuery {
  const fieldInfo = (abbrev: string): FieldInfo => {
    if (ALWAYS_HIDDEN.has(abbrev)) throw new UntranslatableFilter(`the field ${abbrev} (hidden in Wireshark's tree, so not in documents)`);
    const f = info(abbrev);
    // Byte fields longer than --max-bytes (64 by default) are left out of documents when indexed.
    if (f.kind === 'hex') throw new UntranslatableFilter(`the byte field ${abbrev} (left out of documents when longer than --max-bytes, so not found exactly)`);
    return f;
  };
  const node = (n: FilterNode): EsQuery => {
    switch (n.kind) {
      case 'and':
        return { bool: { filter: n.items.map(node) } };
      case 'or':
        return anyOf(n.items.map(node));
      case 'not':
        return not(node(n.item));
      case 'present': {
        const f = fieldInfo(n.field);
        if (f.protocol) return protocolPresent(f.protocol);
        return present(f);
      }
      case 'compare':
        return compare(n.field, fieldInfo(n.field), n.op, n.value);
      case 'in': {
        const f = fieldInfo(n.field);
        if (f.protocol || f.kind === 'present' || f.kind === 'display') throw new UntranslatableFilter(`"in" on ${n.field}`);
        const each: EsQuery[] = [];
        for (const m of n.members) {
          if ('from' in m) {
            if (!ordered(f.kind)) throw new UntranslatableFilter(`a range in a set on ${n.field}`);
            each.push(...f.paths.map((p) => range(p, { gte: esValue(n.field, f, m.from), lte: esValue(n.field, f, m.to) })));
          } else each.push(...f.paths.map((p) => equals(p, f, esValue(n.field, f, m))));
        }
        return anyOf(each);
      }
      case 'contains':
        return contains(n.field, fieldInfo(n.field), n.value);
      case 'matches':
        return matches(n.field, fieldInfo(n.field), n.value);
    }
  };
  return node(tree);
}

function anyOf(queries: EsQuery[]): EsQuery {
  return queries.length === 1 ? queries[0] : { bool: { should: queries, minimum_should_match: 1 } };
}

function not(query: EsQuery): EsQuery {
  return { bool: { must_not: [query] } };
}

function present(f: FieldInfo): EsQuery {
  return anyOf(f.paths.map((field) => ({ exists: { field } })));
}

function range(field: string, bounds: Record<string, unknown>): EsQuery {
  return { range: { [field]: field === TIMESTAMP ? { ...bounds, format: 'strict_date_optional_time_nanos' } : bounds } };
}

/** An exact value; a CIDR block on an address field is a term too (Elasticsearch's ip type matches it). */
function equals(field: string, f: FieldInfo, value: unknown): EsQuery {
  if (field === TIMESTAMP) return range(field, { gte: value, lte: value });
  return { term: { [field]: value } };
}

/**
 * A protocol is in a packet when the tree holds its item: the document's
 * `protocols` lists exactly those (a layer object alone does not say it:
 * dns.* fields under mDNS fill layers.dns; frame.protocols names dissectors,
 * like ethertype, that add no item of their own).
 */
function protocolPresent(abbrev: string): EsQuery {
  return { term: { protocols: abbrev } };
}

function ordered(kind: ValueKind): boolean {
  return [...NUMBER_KINDS, 'iso-time', 'ipv4', 'ipv6', 'text', 'mac'].includes(kind);
}

function compare(name: string, f: FieldInfo, op: Comparison, literal: Literal): EsQuery {
  if (f.protocol || f.kind === 'present') throw new UntranslatableFilter(`a comparison of ${name}, which only marks by being there`);
  if (f.kind === 'display') throw new UntranslatableFilter(`a comparison of ${name}: its values are kept in Wireshark's display form`);
  const value = esValue(name, f, literal);
  const cidr = typeof value === 'string' && (f.kind === 'ipv4' || f.kind === 'ipv6') && value.includes('/');
  if (cidr && op !== 'any_eq' && op !== 'all_ne') throw new UntranslatableFilter(`a subnet with ${op.replace('_', ' ')} on ${name}`);
  const somewhere = (q: (path: string) => EsQuery) => anyOf(f.paths.map(q));
  const eq = () => somewhere((p) => equals(p, f, value));
  // Some value other than `value`.
  const other = () => (f.kind === 'boolean' ? somewhere((p) => equals(p, f, !value)) : somewhere((p) => anyOf([range(p, { lt: value }), range(p, { gt: value })])));
  switch (op) {
    case 'any_eq':
      return eq();
    case 'all_ne':
      return { bool: { filter: [present(f)], must_not: [eq()] } };
    case 'all_eq':
      return { bool: { filter: [present(f)], must_not: [other()] } };
    case 'any_ne':
      return other();
    default: {
      if (f.kind === 'boolean') throw new UntranslatableFilter(`"${op}" on the true/false field ${name}`);
      return somewhere((p) => range(p, { [op === 'ge' ? 'gte' : op === 'le' ? 'lte' : op]: value }));
    }
  }
}

/** A literal as the engine writes the field's values in documents. */
function esValue(name: string, f: FieldInfo, literal: Literal): string | number | boolean {
  const text = literal.text;
  const wrong = (what: string): never => {
    throw new UntranslatableFilter(`the value ${literal.quoted ? `"${text}"` : text} for ${name} (${what})`);
  };
  switch (f.kind) {
    case 'boolean': {
      const t = text.toLowerCase();
      if (t === '1' || t === 'true') return true;
      if (t === '0' || t === 'false') return false;
      return wrong('true/false fields take 1, 0, true or false');
    }
    case 'uint32':
    case 'int32':
    case 'uint64':
    case 'int64': {
      const n = integerLiteral(text);
      if (n === undefined) return wrong('a named value: give the number');
      if (!Number.isSafeInteger(n)) return wrong('beyond 2^53, not exact as a JSON number');
      // libwireshark 4.0 takes it and finds no packet (ntp.precision > -12: tshark 0,
      // a numeric range search 39): not the same comparison, so not translated.
      if (n < 0 && (f.kind === 'uint32' || f.kind === 'uint64')) return wrong('a negative number for an unsigned field');
      return n;
    }
    case 'float': {
      if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return wrong('not a decimal number');
      return Number(text);
    }
    case 'seconds': {
      // libwireshark 4.0 reads a time in seconds without an exponent ("1.3e9" is not 1300000000 to it).
      if (!/^[-+]?(\d+\.?\d*|\.\d+)$/.test(text)) return wrong('seconds are written without an exponent');
      return Number(text);
    }
    case 'ipv4':
    case 'ipv6': {
      const [address, bits, extra] = text.split('/');
      const version = isIP(address);
      if (version === 0 || extra !== undefined || (bits !== undefined && !/^\d{1,3}$/.test(bits))) return wrong('a host name is resolved by Wireshark, not here: give the address');
      return text.toLowerCase();
    }
    case 'mac': {
      const hex = byteLiteral(text);
      if (hex === undefined || hex.length !== 12) return wrong('a name for an address: give the 6 bytes');
      return hex.match(/../g)!.join(':');
    }
    case 'text':
      return text;
    case 'iso-time':
      if (f.paths[0] !== TIMESTAMP) throw new UntranslatableFilter(`a comparison of ${name}: only frame.time is kept to the nanosecond`);
      return absoluteTime(text) ?? wrong('a time espcap does not read: use "YYYY-MM-DD HH:MM:SS[.fraction][Z]"');
    default:
      return wrong('no exact form in documents');
  }
}

/** C-style: 0x1f, 017 (octal), 31, -5. */
function integerLiteral(text: string): number | undefined {
  const m = /^([-+]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*|0[bB][01]+)$/.exec(text);
  if (!m) return undefined;
  const digits = m[2];
  const n = /^0[xX]/.test(digits) ? parseInt(digits.slice(2), 16) : /^0[bB]/.test(digits) ? parseInt(digits.slice(2), 2) : digits.length > 1 && digits[0] === '0' ? parseInt(digits, 8) : Number(digits);
  return m[1] === '-' ? -n : n;
}

/** Bytes written as aa:bb:cc, aa-bb-cc, aa.bb.cc or aabbcc: lower-case hex without separators. */
function byteLiteral(text: string): string | undefined {
  if (/^[0-9a-fA-F]{2}([:.-][0-9a-fA-F]{2})*$/.test(text)) return text.replace(/[:.-]/g, '').toLowerCase();
  if (/^([0-9a-fA-F]{2})+$/.test(text)) return text.toLowerCase();
  if (/^[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}$/.test(text)) return text.replace(/\./g, '').toLowerCase(); // Cisco-style MAC
  return undefined;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/**
 * A time as Wireshark reads it in a filter: "2015-07-30 05:22:10.5",
 * "2015-07-30T05:22:10Z", "Jul 30, 2015 05:22:10.468623 UTC"; local time
 * unless marked UTC (Z), like Wireshark. As ISO 8601 UTC with nanoseconds.
 */
export function absoluteTime(text: string): string | undefined {
  let m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?\s*(Z|UTC)?$/i.exec(text.trim());
  let parts: [number, number, number, number, number, number, string, boolean] | undefined;
  if (m) parts = [+m[1], +m[2], +m[3], +m[4], +m[5], +m[6], m[7] ?? '', m[8] !== undefined];
  else {
    m = /^([A-Za-z]{3})\s+(\d{1,2}),\s*(\d{4})\s+(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?\s*(Z|UTC)?$/i.exec(text.trim());
    const month = m ? MONTHS.indexOf(m[1].toLowerCase()) + 1 : 0;
    if (m && month > 0) parts = [+m[3], month, +m[2], +m[4], +m[5], +m[6], m[7] ?? '', m[8] !== undefined];
  }
  if (!parts) return undefined;
  const [y, mo, d, h, mi, s, fraction, utc] = parts;
  const ms = utc ? Date.UTC(y, mo - 1, d, h, mi, s) : new Date(y, mo - 1, d, h, mi, s).getTime();
  if (Number.isNaN(ms)) return undefined;
  return `${new Date(ms).toISOString().slice(0, 19)}.${fraction.padEnd(9, '0')}Z`;
}

function contains(name: string, f: FieldInfo, literal: Literal): EsQuery {
  const somewhere = (q: (path: string) => EsQuery) => anyOf(f.paths.map(q));
  switch (f.kind) {
    case 'text':
      return somewhere((p) => ({ wildcard: { [p]: { value: `*${literal.text.replace(/[*?\\]/g, (c) => `\\${c}`)}*` } } }));
    case 'mac': {
      const hex = literal.quoted ? Buffer.from(literal.text, 'latin1').toString('hex') : byteLiteral(literal.text);
      if (!hex) throw new UntranslatableFilter(`the value ${literal.text} for ${name} (not bytes)`);
      const colons = hex.match(/../g)!.join(':');
      return somewhere((p) => ({ regexp: { [p]: { value: `([0-9a-f]{2}:)*${colons}(:.*)?`, flags: 'NONE' } } }));
    }
    default:
      throw new UntranslatableFilter(`"contains" on ${name}${f.protocol ? ' (the bytes of a protocol are not in documents)' : ''}`);
  }
}

function matches(name: string, f: FieldInfo, literal: Literal): EsQuery {
  if (f.kind !== 'text') throw new UntranslatableFilter(`"matches" on ${name} (only text fields)`);
  const { pattern, caseInsensitive } = luceneRegexp(literal.text);
  return anyOf(f.paths.map((p) => ({ regexp: { [p]: { value: pattern, flags: 'NONE', case_insensitive: caseInsensitive } } })));
}

/**
 * A PCRE2 pattern (Wireshark's "matches": a search anywhere in the value, case
 * insensitive unless (?-i)) as a Lucene regular expression (which must match
 * the whole value). Literals, ., classes, \d \w \s, groups, alternation,
 * greedy quantifiers and ^/$ at the ends translate; the rest is refused.
 */
export function luceneRegexp(pcre: string): { pattern: string; caseInsensitive: boolean } {
  let caseInsensitive = true;
  let source = pcre;
  if (source.startsWith('(?-i)')) {
    caseInsensitive = false;
    source = source.slice(5);
  } else if (source.startsWith('(?i)')) source = source.slice(4);
  let anchoredStart = false;
  let anchoredEnd = false;
  if (source.startsWith('^')) {
    anchoredStart = true;
    source = source.slice(1);
  }
  if (source.endsWith('$') && !source.endsWith('\\$')) {
    anchoredEnd = true;
    source = source.slice(0, -1);
  }
  const refuse = (what: string): never => {
    throw new UntranslatableFilter(`the regular expression construct ${what} in "${pcre}"`);
  };
  // The white space characters themselves, not \t and the like: Lucene refuses a backslash before most letters (older releases read it as the letter).
  const classes: Record<string, string> = { d: '[0-9]', w: '[A-Za-z0-9_]', s: '[ \t\n\r\f\v]', D: '[^0-9]', W: '[^A-Za-z0-9_]', S: '[^ \t\n\r\f\v]' };
  let out = '';
  let depth = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      const e = source[++i];
      if (e === undefined) refuse('a trailing backslash');
      if (e in classes) out += classes[e];
      else if (/[A-Za-z0-9]/.test(e)) refuse(`\\${e}`);
      else out += `\\${e}`;
    } else if (c === '[') {
      // A class, copied with its ranges; escapes inside other than \] \\ \- are refused.
      let j = i + 1;
      let cls = '[';
      if (source[j] === '^') cls += source[j++];
      if (source[j] === ']') cls += `\\${source[j++]}`;
      for (; j < source.length && source[j] !== ']'; j++) {
        if (source[j] === '\\') {
          const e = source[++j];
          if (e === ']' || e === '\\' || e === '-') cls += `\\${e}`;
          else refuse(`\\${e} in a class`);
        } else if (source[j] === '[') refuse('[ inside a class');
        else cls += /[A-Za-z0-9^-]/.test(source[j]) ? source[j] : `\\${source[j]}`;
      }
      if (j >= source.length) refuse('an unclosed class');
      out += `${cls}]`;
      i = j;
    } else if (c === '(') {
      if (source[i + 1] === '?') refuse('(?...)');
      depth++;
      out += c;
    } else if (c === ')') {
      depth--;
      out += c;
    } else if (c === '*' || c === '+' || c === '?' || c === '}') {
      if (source[i + 1] === '?' || source[i + 1] === '+') refuse('a lazy or possessive quantifier');
      out += c;
    } else if (c === '{') {
      const q = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i));
      if (!q) refuse('{ that is not a repetition');
      out += q![0].slice(0, -1);
      i += q![0].length - 2;
    } else if (c === '|' || c === '.') out += c;
    else if (c === '^' || c === '$') refuse(`${c} inside the pattern`);
    else out += /[A-Za-z0-9 _]/.test(c) ? c : `\\${c}`;
  }
  if (depth !== 0) refuse('unbalanced parentheses');
  return { pattern: `${anchoredStart ? '' : '.*'}(${out})${anchoredEnd ? '' : '.*'}`, caseInsensitive };
}
