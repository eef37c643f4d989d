// The translation of display filters into Elasticsearch queries
// (src/search/translate.ts): every construct the README's "Find packets
// again" lists, with the exact query it becomes, and every refusal with its
// one line. The field registry is a fixed table here (name -> layer, key,
// value kind), given to the translator the way src/cli/query.ts gives it the
// addon's: a protocol is found by `protocols`, frame.time by @timestamp, the
// six either-direction fields as both of their fields.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { ValueKind } from '../../native/addon';
import { parseDisplayFilter, UntranslatableFilter } from '../../src/search/display-filter';
import { absoluteTime, EITHER_DIRECTION, EsQuery, FieldInfo, luceneRegexp, translateFilter } from '../../src/search/translate';
import { UsageError } from '../../src/errors';

// Local time is UTC-4 in July and UTC-5 in January here, whatever the machine's zone.
process.env.TZ = 'America/New_York';

const PROTOCOLS = new Set(['dns', 'mdns', '_ws.expert', 'tcp', 'udp', 'ip', 'sip', 'rtp', 'smtp']);
const FIELDS: Record<string, [layer: string, key: string, kind: ValueKind]> = {
  'tcp.srcport': ['tcp', 'srcport', 'uint32'],
  'tcp.dstport': ['tcp', 'dstport', 'uint32'],
  'udp.srcport': ['udp', 'srcport', 'uint32'],
  'udp.dstport': ['udp', 'dstport', 'uint32'],
  'sctp.srcport': ['sctp', 'srcport', 'uint32'],
  'sctp.dstport': ['sctp', 'dstport', 'uint32'],
  'ip.src': ['ip', 'src', 'ipv4'],
  'ip.dst': ['ip', 'dst', 'ipv4'],
  'ipv6.src': ['ipv6', 'src', 'ipv6'],
  'ipv6.dst': ['ipv6', 'dst', 'ipv6'],
  'eth.src': ['eth', 'src', 'mac'],
  'eth.dst': ['eth', 'dst', 'mac'],
  'tcp.flags.syn': ['tcp', 'flags_syn', 'boolean'],
  'tcp.analysis.retransmission': ['tcp', 'analysis_retransmission', 'present'],
  'ntp.precision': ['ntp', 'precision', 'int32'],
  'frame.file_off': ['frame', 'file_off', 'int64'],
  'frame.time': ['frame', 'time', 'iso-time'],
  'frame.time_utc': ['frame', 'time_utc', 'iso-time'],
  'frame.time_relative': ['frame', 'time_relative', 'seconds'],
  'rtcp.ssrc.fraction': ['rtcp', 'ssrc_fraction', 'float'],
  'http.request.method': ['http', 'request_method', 'text'],
  'http.host': ['http', 'host', 'text'],
  'smtp.req.command': ['smtp', 'req_command', 'text'],
  'dns.qry.type': ['dns', 'qry_type', 'uint32'],
  'udp.payload': ['udp', 'payload', 'hex'],
  'snmp.name': ['snmp', 'name', 'display'],
  '_ws.expert.message': ['ws_expert', 'message', 'text'],
};

/** What src/cli/query.ts makes of the registry, for the table above. */
function info(abbrev: string): FieldInfo {
  if (PROTOCOLS.has(abbrev)) return { paths: ['protocols'], kind: 'present', protocol: abbrev };
  const pair = EITHER_DIRECTION[abbrev];
  if (pair) {
    const [a, b] = pair.map(info);
    return { paths: [...a.paths, ...b.paths], kind: a.kind };
  }
  const [layer, key, kind] = FIELDS[abbrev];
  return { paths: [abbrev === 'frame.time' ? '@timestamp' : `layers.${layer}.${key}`], kind };
}
const isField = (name: string) => PROTOCOLS.has(name) || name in FIELDS || name in EITHER_DIRECTION;
const translate = (filter: string): EsQuery => translateFilter(parseDisplayFilter(filter, isField), info);

/** The translation of `filter` is refused with exactly this construct named, as a usage error (exit 2). */
function refused(filter: string, construct: string): void {
  assert.throws(
    () => translate(filter),
    (err: unknown) => {
      assert.ok(err instanceof UntranslatableFilter && err instanceof UsageError, `${filter}: ${String(err)}`);
      assert.equal(err.message, `--query: ${construct} cannot be translated into an Elasticsearch query exactly; not searched`, filter);
      return true;
    },
  );
}

const should = (...queries: EsQuery[]): EsQuery => ({ bool: { should: queries, minimum_should_match: 1 } });
const term = (field: string, value: unknown): EsQuery => ({ term: { [field]: value } });
const exists = (field: string): EsQuery => ({ exists: { field } });
const range = (field: string, bounds: Record<string, unknown>): EsQuery => ({ range: { [field]: bounds } });
const NANOS = 'strict_date_optional_time_nanos';
const SRC = 'layers.tcp.srcport';
const DST = 'layers.tcp.dstport';

test('a protocol: its item is in the tree (the document lists it in protocols)', () => {
  assert.deepEqual(translate('dns'), term('protocols', 'dns'));
  assert.deepEqual(translate('_ws.expert'), term('protocols', '_ws.expert'));
  assert.deepEqual(translate('dns && !mdns'), { bool: { filter: [term('protocols', 'dns'), { bool: { must_not: [term('protocols', 'mdns')] } }] } });
  assert.deepEqual(translate('sip || rtp'), should(term('protocols', 'sip'), term('protocols', 'rtp')));
});

test('a field alone: present', () => {
  assert.deepEqual(translate('tcp.flags.syn'), exists('layers.tcp.flags_syn'));
  assert.deepEqual(translate('tcp.analysis.retransmission'), exists('layers.tcp.analysis_retransmission'));
  assert.deepEqual(translate('frame.time'), exists('@timestamp'));
});

test('==, !=, ===, !== (~=): some equal, none equal (and there), all equal (and there), some not equal', () => {
  assert.deepEqual(translate('tcp.dstport == 80'), term(DST, 80));
  assert.deepEqual(translate('tcp.dstport != 80'), { bool: { filter: [exists(DST)], must_not: [term(DST, 80)] } });
  const other = should(range(DST, { lt: 80 }), range(DST, { gt: 80 }));
  assert.deepEqual(translate('tcp.dstport === 80'), { bool: { filter: [exists(DST)], must_not: [other] } });
  assert.deepEqual(translate('tcp.dstport !== 80'), other);
  assert.deepEqual(translate('tcp.dstport ~= 80'), other);
});

test('<, <=, >, >=: a range on some value', () => {
  assert.deepEqual(translate('tcp.dstport < 80'), range(DST, { lt: 80 }));
  assert.deepEqual(translate('tcp.dstport <= 80'), range(DST, { lte: 80 }));
  assert.deepEqual(translate('tcp.dstport > 80'), range(DST, { gt: 80 }));
  assert.deepEqual(translate('tcp.dstport >= 80'), range(DST, { gte: 80 }));
  assert.deepEqual(translate('ip.src > 10.0.0.1'), range('layers.ip.src', { gt: '10.0.0.1' }));
  assert.deepEqual(translate('http.host <= "m"'), range('layers.http.host', { lte: 'm' }));
});

test('and, or, not, parentheses', () => {
  assert.deepEqual(translate('tcp.dstport == 80 and tcp.flags.syn'), { bool: { filter: [term(DST, 80), exists('layers.tcp.flags_syn')] } });
  assert.deepEqual(translate('tcp.dstport == 80 || tcp.dstport == 443 or udp'), should(term(DST, 80), term(DST, 443), term('protocols', 'udp')));
  assert.deepEqual(translate('not tcp.flags.syn'), { bool: { must_not: [exists('layers.tcp.flags_syn')] } });
  assert.deepEqual(translate('!(tcp.dstport == 80 && udp)'), { bool: { must_not: [{ bool: { filter: [term(DST, 80), term('protocols', 'udp')] } }] } });
});

test('the six either-direction fields are their two fields, with the same rule for several values', () => {
  const pairs: [string, string, string][] = [
    ['ip.addr', 'layers.ip.src', 'layers.ip.dst'],
    ['ipv6.addr', 'layers.ipv6.src', 'layers.ipv6.dst'],
    ['eth.addr', 'layers.eth.src', 'layers.eth.dst'],
    ['tcp.port', SRC, DST],
    ['udp.port', 'layers.udp.srcport', 'layers.udp.dstport'],
    ['sctp.port', 'layers.sctp.srcport', 'layers.sctp.dstport'],
  ];
  for (const [name, a, b] of pairs) assert.deepEqual(translate(name), should(exists(a), exists(b)), name);
  assert.deepEqual(translate('tcp.port == 443'), should(term(SRC, 443), term(DST, 443)));
  // != : neither direction is 443 (and the field is there).
  assert.deepEqual(translate('tcp.port != 443'), { bool: { filter: [should(exists(SRC), exists(DST))], must_not: [should(term(SRC, 443), term(DST, 443))] } });
  const other = should(should(range(SRC, { lt: 443 }), range(SRC, { gt: 443 })), should(range(DST, { lt: 443 }), range(DST, { gt: 443 })));
  assert.deepEqual(translate('tcp.port === 443'), { bool: { filter: [should(exists(SRC), exists(DST))], must_not: [other] } });
  assert.deepEqual(translate('tcp.port !== 443'), other);
  assert.deepEqual(translate('tcp.port > 1023'), should(range(SRC, { gt: 1023 }), range(DST, { gt: 1023 })));
  assert.deepEqual(translate('!(tcp.port == 80)'), { bool: { must_not: [should(term(SRC, 80), term(DST, 80))] } });
});

test('the README examples', () => {
  assert.deepEqual(translate('tcp.port == 443 && ip.addr == 10.0.0.0/8'), {
    bool: { filter: [should(term(SRC, 443), term(DST, 443)), should(term('layers.ip.src', '10.0.0.0/8'), term('layers.ip.dst', '10.0.0.0/8'))] },
  });
  assert.deepEqual(translate('http.request.method matches "post"'), {
    regexp: { 'layers.http.request_method': { value: '.*(post).*', flags: 'NONE', case_insensitive: true } },
  });
});

test('subnets: a term (the ip type matches the block), for == and != only', () => {
  assert.deepEqual(translate('ip.src == 10.0.0.0/8'), term('layers.ip.src', '10.0.0.0/8'));
  assert.deepEqual(translate('ip.src != 10.0.0.0/8'), { bool: { filter: [exists('layers.ip.src')], must_not: [term('layers.ip.src', '10.0.0.0/8')] } });
  assert.deepEqual(translate('ipv6.addr == FE80::/10'), should(term('layers.ipv6.src', 'fe80::/10'), term('layers.ipv6.dst', 'fe80::/10')));
  assert.deepEqual(translate('ipv6.src == FE80::1'), term('layers.ipv6.src', 'fe80::1'));
  refused('ip.src === 10.0.0.0/8', 'a subnet with all eq on ip.src');
  refused('ip.src !== 10.0.0.0/8', 'a subnet with any ne on ip.src');
  refused('ip.src > 10.0.0.0/8', 'a subnet with gt on ip.src');
  refused('ip.src == example.com', 'the value example.com for ip.src (a host name is resolved by Wireshark, not here: give the address)');
  refused('ip.src == 10.0.0.0/x', 'the value 10.0.0.0/x for ip.src (a host name is resolved by Wireshark, not here: give the address)');
});

test("MAC addresses in any of Wireshark's forms: as documents write them", () => {
  for (const mac of ['00:1A:2b:3C:4d:5E', '00-1a-2b-3c-4d-5e', '00.1a.2b.3c.4d.5e', '001a.2b3c.4d5e', '001a2b3c4d5e', '"00:1a:2b:3c:4d:5e"'])
    assert.deepEqual(translate(`eth.src == ${mac}`), term('layers.eth.src', '00:1a:2b:3c:4d:5e'), mac);
  assert.deepEqual(translate('eth.addr == 00:1a:2b:3c:4d:5e'), should(term('layers.eth.src', '00:1a:2b:3c:4d:5e'), term('layers.eth.dst', '00:1a:2b:3c:4d:5e')));
  refused('eth.src == Apple_12:34:56', 'the value Apple_12:34:56 for eth.src (a name for an address: give the 6 bytes)');
  refused('eth.src == 00:1a:2b:3c:4d', 'the value 00:1a:2b:3c:4d for eth.src (a name for an address: give the 6 bytes)');
});

test('integers in C form; negative numbers for signed fields; beyond 2^53 refused', () => {
  for (const [text, n] of [['80', 80], ['0x50', 80], ['0X50', 80], ['0120', 80], ['0', 0]] as const)
    assert.deepEqual(translate(`tcp.dstport == ${text}`), term(DST, n), text);
  assert.deepEqual(translate('ntp.precision > -12'), range('layers.ntp.precision', { gt: -12 }));
  assert.deepEqual(translate('ntp.precision == -0x0c'), term('layers.ntp.precision', -12));
  assert.deepEqual(translate('frame.file_off == 9007199254740991'), term('layers.frame.file_off', 9007199254740991));
  refused('frame.file_off == 9007199254740993', 'the value 9007199254740993 for frame.file_off (beyond 2^53, not exact as a JSON number)');
  refused('udp.srcport > -12', 'the value -12 for udp.srcport (a negative number for an unsigned field)');
  refused('dns.qry.type == A', 'the value A for dns.qry.type (a named value: give the number)');
  refused('tcp.dstport == 08', 'the value 08 for tcp.dstport (a named value: give the number)');
});

test('true/false fields: true, false, 1, 0', () => {
  const syn = 'layers.tcp.flags_syn';
  for (const text of ['1', 'true', 'TRUE']) assert.deepEqual(translate(`tcp.flags.syn == ${text}`), term(syn, true), text);
  for (const text of ['0', 'false', 'False']) assert.deepEqual(translate(`tcp.flags.syn == ${text}`), term(syn, false), text);
  assert.deepEqual(translate('tcp.flags.syn != 1'), { bool: { filter: [exists(syn)], must_not: [term(syn, true)] } });
  // "Some other value" of a true/false field is the other one.
  assert.deepEqual(translate('tcp.flags.syn === 1'), { bool: { filter: [exists(syn)], must_not: [term(syn, false)] } });
  assert.deepEqual(translate('tcp.flags.syn !== 1'), term(syn, false));
  refused('tcp.flags.syn > 0', '"gt" on the true/false field tcp.flags.syn');
  refused('tcp.flags.syn == 2', 'the value 2 for tcp.flags.syn (true/false fields take 1, 0, true or false)');
  refused('tcp.flags.syn == "yes"', 'the value "yes" for tcp.flags.syn (true/false fields take 1, 0, true or false)');
});

test('decimal numbers for floats and relative times; text as it is', () => {
  assert.deepEqual(translate('frame.time_relative > 30.5'), range('layers.frame.time_relative', { gt: 30.5 }));
  assert.deepEqual(translate('frame.time_relative == .5'), term('layers.frame.time_relative', 0.5));
  assert.deepEqual(translate('rtcp.ssrc.fraction >= 1e-3'), range('layers.rtcp.ssrc_fraction', { gte: 0.001 }));
  refused('frame.time_relative > 1/2', 'the value 1/2 for frame.time_relative (seconds are written without an exponent)');
  // libwireshark 4.0 does not read 1.3e9 as 1300000000 seconds (tshark finds other packets).
  refused('frame.time_relative > 1.3e9', 'the value 1.3e9 for frame.time_relative (seconds are written without an exponent)');
  assert.deepEqual(translate('smtp.req.command == "MAIL"'), term('layers.smtp.req_command', 'MAIL'));
  assert.deepEqual(translate('http.request.method == GET'), term('layers.http.request_method', 'GET'));
});

test('frame.time compares @timestamp to the nanosecond; local time unless Z or UTC', () => {
  const at = (iso: string, bounds: string[]) => range('@timestamp', { ...Object.fromEntries(bounds.map((b) => [b, iso])), format: NANOS });
  assert.deepEqual(translate('frame.time == "2015-07-30 05:22:10.5Z"'), at('2015-07-30T05:22:10.500000000Z', ['gte', 'lte']));
  assert.deepEqual(translate('frame.time >= "2015-07-30 05:22:10.123456789 UTC"'), at('2015-07-30T05:22:10.123456789Z', ['gte']));
  assert.deepEqual(translate('frame.time < "2015-07-30 05:22:10"'), at('2015-07-30T09:22:10.000000000Z', ['lt']));
  assert.deepEqual(translate('frame.time > "2015-01-30T05:22:10"'), at('2015-01-30T10:22:10.000000000Z', ['gt']));
  assert.deepEqual(translate('frame.time <= "Jul 30, 2015 05:22:10.468623 UTC"'), at('2015-07-30T05:22:10.468623000Z', ['lte']));
  assert.deepEqual(translate('frame.time != "2015-07-30T05:22:10Z"'), {
    bool: { filter: [exists('@timestamp')], must_not: [at('2015-07-30T05:22:10.000000000Z', ['gte', 'lte'])] },
  });
  assert.deepEqual(translate('frame.time in {"2015-07-30 05:22:10Z".."2015-07-30 05:22:11Z"}'), {
    range: { '@timestamp': { gte: '2015-07-30T05:22:10.000000000Z', lte: '2015-07-30T05:22:11.000000000Z', format: NANOS } },
  });
  refused('frame.time_utc == "2015-07-30 05:22:10Z"', 'a comparison of frame.time_utc: only frame.time is kept to the nanosecond');
  refused('frame.time == "yesterday"', 'the value "yesterday" for frame.time (a time espcap does not read: use "YYYY-MM-DD HH:MM:SS[.fraction][Z]")');
});

test("absoluteTime reads Wireshark's time forms, as ISO 8601 UTC with nanoseconds", () => {
  assert.equal(absoluteTime('2015-07-30 05:22:10'), '2015-07-30T09:22:10.000000000Z');
  assert.equal(absoluteTime('2015-07-30T05:22:10.5Z'), '2015-07-30T05:22:10.500000000Z');
  assert.equal(absoluteTime(' 2015-07-30 05:22:10.000000001 utc '), '2015-07-30T05:22:10.000000001Z');
  assert.equal(absoluteTime('Jul 30, 2015 05:22:10 UTC'), '2015-07-30T05:22:10.000000000Z');
  assert.equal(absoluteTime('jan 1, 2015 00:00:00'), '2015-01-01T05:00:00.000000000Z');
  for (const bad of ['yesterday', '2015-07-30', '2015-07-30 05:22', '2015-07-30 05:22:10.1234567890Z', 'Foo 30, 2015 05:22:10', '2015-07-30 05:22:10 CET'])
    assert.equal(absoluteTime(bad), undefined, bad);
});

test('sets: each member, ranges for ordered values, not in', () => {
  assert.deepEqual(
    translate('tcp.port in {80, 443, 8000..8080}'),
    should(term(SRC, 80), term(DST, 80), term(SRC, 443), term(DST, 443), range(SRC, { gte: 8000, lte: 8080 }), range(DST, { gte: 8000, lte: 8080 })),
  );
  assert.deepEqual(translate('tcp.dstport in {80}'), term(DST, 80));
  assert.deepEqual(translate('tcp.dstport in {0x50 .. 0120}'), range(DST, { gte: 80, lte: 80 }));
  assert.deepEqual(translate('http.request.method in {"GET" "POST"}'), should(term('layers.http.request_method', 'GET'), term('layers.http.request_method', 'POST')));
  assert.deepEqual(translate('ip.src in {10.0.0.1..10.0.0.9}'), range('layers.ip.src', { gte: '10.0.0.1', lte: '10.0.0.9' }));
  assert.deepEqual(translate('tcp.dstport not in {80, 443}'), { bool: { must_not: [should(term(DST, 80), term(DST, 443))] } });
  refused('tcp.flags.syn in {0..1}', 'a range in a set on tcp.flags.syn');
  refused('dns in {1}', '"in" on dns');
  refused('tcp.analysis.retransmission in {1}', '"in" on tcp.analysis.retransmission');
  refused('snmp.name in {"1.3.6"}', '"in" on snmp.name');
});

test('contains: anywhere in text (wildcards escaped), a byte sequence of a MAC address', () => {
  assert.deepEqual(translate(String.raw`http.host contains "exa*m?p\\le"`), { wildcard: { 'layers.http.host': { value: String.raw`*exa\*m\?p\\le*` } } });
  const mac = (value: string, field = 'layers.eth.src') => ({ regexp: { [field]: { value, flags: 'NONE' } } });
  assert.deepEqual(translate('eth.src contains 1A:2b'), mac('([0-9a-f]{2}:)*1a:2b(:.*)?'));
  assert.deepEqual(translate('eth.src contains "AB"'), mac('([0-9a-f]{2}:)*41:42(:.*)?'));
  assert.deepEqual(translate('eth.addr contains 3c'), should(mac('([0-9a-f]{2}:)*3c(:.*)?'), mac('([0-9a-f]{2}:)*3c(:.*)?', 'layers.eth.dst')));
  refused('tcp.dstport contains 80', '"contains" on tcp.dstport');
  refused('tcp contains "GET"', '"contains" on tcp (the bytes of a protocol are not in documents)');
  refused('eth.src contains zz', 'the value zz for eth.src (not bytes)');
});

test('matches: a case-insensitive search anywhere, unless (?-i) or anchored', () => {
  const rx = (value: string, caseInsensitive = true) => ({ regexp: { 'layers.http.host': { value, flags: 'NONE', case_insensitive: caseInsensitive } } });
  assert.deepEqual(translate('http.host matches "post"'), rx('.*(post).*'));
  assert.deepEqual(translate('http.host matches "(?i)post"'), rx('.*(post).*'));
  assert.deepEqual(translate('http.host matches "(?-i)POST"'), rx('.*(POST).*', false));
  assert.deepEqual(translate('http.host matches "^GET$"'), rx('(GET)'));
  assert.deepEqual(translate('http.host ~ "get|post"'), rx('.*(get|post).*'));
  assert.deepEqual(translate(String.raw`http.host matches "^(www|en)\\.wikipedia"`), rx(String.raw`((www|en)\.wikipedia).*`));
  assert.deepEqual(translate(String.raw`http.host matches r"\d+$"`), rx('.*([0-9]+)'));
  refused('tcp.dstport matches "8"', '"matches" on tcp.dstport (only text fields)');
});

test('regular expressions: what translates into Lucene syntax', () => {
  const lucene = (pcre: string) => luceneRegexp(pcre).pattern;
  assert.equal(lucene(String.raw`[a-f0-9]+\.\d{2,3}`), String.raw`.*([a-f0-9]+\.[0-9]{2,3}).*`);
  assert.equal(lucene(String.raw`\w\D\W`), '.*([A-Za-z0-9_][^0-9][^A-Za-z0-9_]).*');
  // White space as the characters themselves: Lucene reads no \t, \n, ... escapes.
  assert.equal(lucene(String.raw`a\sb\S`), '.*(a[ \t\n\r\f\v]b[^ \t\n\r\f\v]).*');
  assert.ok(!/\\[a-zA-Z]/.test(lucene(String.raw`\d\D\w\W\s\S`)), 'no backslash before a letter');
  assert.equal(lucene('x{3}y{2,}z?'), '.*(x{3}y{2,}z?).*');
  assert.equal(lucene('(ab)*c+'), '.*((ab)*c+).*');
  // Lucene's operators and reserved characters are literals in PCRE: escaped.
  assert.equal(lucene('a"b<c>d@e&f~g#h i_j-k'), String.raw`.*(a\"b\<c\>d\@e\&f\~g\#h i_j\-k).*`);
  assert.equal(lucene('[.@]'), String.raw`.*([\.\@]).*`);
  assert.equal(lucene(String.raw`[^]a\]\\\-]`), String.raw`.*([^\]a\]\\\-]).*`);
  // An escaped $ at the end is a dollar sign, not an anchor.
  assert.equal(lucene(String.raw`a\$`), String.raw`.*(a\$).*`);
  assert.deepEqual(luceneRegexp('(?-i)^A'), { pattern: '(A).*', caseInsensitive: false });
});

test('regular expression constructs beyond those are refused, naming the construct and the pattern', () => {
  const cases: [string, string][] = [
    ['a(?=b)', '(?...)'],
    [String.raw`a\b`, String.raw`\b`],
    [String.raw`a\1`, String.raw`\1`],
    [String.raw`[\d]`, String.raw`\d in a class`],
    ['[[a]', '[ inside a class'],
    ['[abc', 'an unclosed class'],
    ['a*?', 'a lazy or possessive quantifier'],
    ['a++', 'a lazy or possessive quantifier'],
    ['a{x}', '{ that is not a repetition'],
    ['a^b', '^ inside the pattern'],
    ['a$b', '$ inside the pattern'],
    ['(ab', 'unbalanced parentheses'],
  ];
  for (const [pcre, construct] of cases) {
    const quoted = pcre.replace(/\\/g, '\\\\');
    refused(`http.host matches "${quoted}"`, `the regular expression construct ${construct} in "${pcre}"`);
  }
  refused(String.raw`http.host matches "a\\"`, String.raw`the regular expression construct a trailing backslash in "a\"`);
});

test('fields with no exact form in documents are refused', () => {
  const bytes = 'the byte field udp.payload (left out of documents when longer than --max-bytes, so not found exactly)';
  refused('udp.payload', bytes);
  refused('udp.payload == 6b:b3', bytes);
  refused('udp.payload contains 6b:b3', bytes);
  refused('snmp.name == "1.3.6.1"', "a comparison of snmp.name: its values are kept in Wireshark's display form");
  refused('tcp.analysis.retransmission == 1', 'a comparison of tcp.analysis.retransmission, which only marks by being there');
  refused('dns == 1', 'a comparison of dns, which only marks by being there');
  // Added hidden by Wireshark, so never in documents: refused rather than found nowhere.
  refused('_ws.expert.message', "the field _ws.expert.message (hidden in Wireshark's tree, so not in documents)");
  refused('_ws.expert.message contains "x"', "the field _ws.expert.message (hidden in Wireshark's tree, so not in documents)");
});
