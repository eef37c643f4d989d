// The display-filter parser (src/search/display-filter.ts): the tree it reads
// from each construct espcap translates, and the one-line refusal of each
// construct it does not. No engine: the registry of names is a fixed set.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { FilterNode, parseDisplayFilter, UntranslatableFilter } from '../../src/search/display-filter';
import { UsageError } from '../../src/errors';

const FIELDS = new Set(['dns', 'mdns', 'tcp', 'udp', 'ip', '_ws.expert', 'tcp.port', 'tcp.srcport', 'tcp.dstport', 'tcp.flags.syn', 'ip.src', 'ip.addr', 'http.host']);
const parse = (filter: string): FilterNode => parseDisplayFilter(filter, (name) => FIELDS.has(name));

const bare = (text: string) => ({ text, quoted: false });
const quoted = (text: string) => ({ text, quoted: true });
const present = (field: string): FilterNode => ({ kind: 'present', field });

/** The parser refuses `filter` with exactly this construct named, as a usage error (exit 2). */
function refused(filter: string, construct: string): void {
  assert.throws(
    () => parse(filter),
    (err: unknown) => {
      assert.ok(err instanceof UntranslatableFilter, `${filter}: ${String(err)}`);
      assert.ok(err instanceof UsageError);
      assert.equal(err.message, `--query: ${construct} cannot be translated into an Elasticsearch query exactly; not searched`);
      return true;
    },
  );
}

test('a protocol or a field alone: present', () => {
  assert.deepEqual(parse('dns'), present('dns'));
  assert.deepEqual(parse('_ws.expert'), present('_ws.expert'));
  assert.deepEqual(parse('  tcp.flags.syn  '), present('tcp.flags.syn'));
});

test('every comparison, in symbols and in words, by its Wireshark 4.0 meaning', () => {
  const cases: [string[], string][] = [
    [['==', 'eq', 'EQ', 'any_eq'], 'any_eq'],
    [['!=', 'ne', 'all_ne'], 'all_ne'],
    [['===', 'all_eq'], 'all_eq'],
    [['!==', '~=', 'any_ne'], 'any_ne'],
    [['>', 'gt'], 'gt'],
    [['>=', 'ge'], 'ge'],
    [['<', 'lt'], 'lt'],
    [['<=', 'le'], 'le'],
  ];
  for (const [spellings, op] of cases)
    for (const spelling of spellings) assert.deepEqual(parse(`tcp.port ${spelling} 80`), { kind: 'compare', field: 'tcp.port', op, value: bare('80') }, spelling);
  // No spaces needed around a symbol.
  assert.deepEqual(parse('tcp.port>=80'), { kind: 'compare', field: 'tcp.port', op: 'ge', value: bare('80') });
});

test('values: bare words (numbers, subnets, MACs, IPv6) and quoted strings with their escapes', () => {
  const value = (filter: string) => (parse(filter) as { value: unknown }).value;
  assert.deepEqual(value('ip.src == 10.0.0.0/8'), bare('10.0.0.0/8'));
  assert.deepEqual(value('ip.src == fe80::1'), bare('fe80::1'));
  assert.deepEqual(value('ip.src == 00:11:22:33:44:55'), bare('00:11:22:33:44:55'));
  assert.deepEqual(value('ip.src == 00-11-22-33-44-55'), bare('00-11-22-33-44-55'));
  assert.deepEqual(value('tcp.port == 0x50'), bare('0x50'));
  assert.deepEqual(value('tcp.port == -12'), bare('-12'));
  assert.deepEqual(value('http.host == "a b"'), quoted('a b'));
  assert.deepEqual(value('http.host == ""'), quoted(''));
  assert.deepEqual(value(String.raw`http.host == "\x41\101\n\t\"\\\'"`), quoted('AA\n\t"\\\''));
  // Raw strings keep their backslashes.
  assert.deepEqual(value(String.raw`http.host matches r"\d+\.\""`), quoted(String.raw`\d+\.\"`));
  assert.deepEqual(value(String.raw`http.host matches R"a\b"`), quoted(String.raw`a\b`));
});

test('and, or, not: in words and symbols, with C precedence (not, and, or), chains flattened, parentheses', () => {
  const [a, b, c] = [present('dns'), present('tcp'), present('udp')];
  assert.deepEqual(parse('dns && tcp'), { kind: 'and', items: [a, b] });
  assert.deepEqual(parse('dns AND tcp and udp'), { kind: 'and', items: [a, b, c] });
  assert.deepEqual(parse('dns || tcp or udp'), { kind: 'or', items: [a, b, c] });
  assert.deepEqual(parse('!dns'), { kind: 'not', item: a });
  assert.deepEqual(parse('not not dns'), { kind: 'not', item: { kind: 'not', item: a } });
  assert.deepEqual(parse('dns || tcp && !udp'), { kind: 'or', items: [a, { kind: 'and', items: [b, { kind: 'not', item: c }] }] });
  assert.deepEqual(parse('!dns && tcp'), { kind: 'and', items: [{ kind: 'not', item: a }, b] });
  assert.deepEqual(parse('(dns || tcp) && udp'), { kind: 'and', items: [{ kind: 'or', items: [a, b] }, c] });
  assert.deepEqual(parse('!(dns || tcp)'), { kind: 'not', item: { kind: 'or', items: [a, b] } });
  assert.deepEqual(parse('((dns))'), a);
});

test('sets: members, ranges written either way, quoted members, not in', () => {
  assert.deepEqual(parse('tcp.port in {80, 443 8000..8080}'), {
    kind: 'in',
    field: 'tcp.port',
    members: [bare('80'), bare('443'), { from: bare('8000'), to: bare('8080') }],
  });
  assert.deepEqual(parse('tcp.port in {1 .. 10}'), { kind: 'in', field: 'tcp.port', members: [{ from: bare('1'), to: bare('10') }] });
  assert.deepEqual(parse('http.host in {"a" "b"}'), { kind: 'in', field: 'http.host', members: [quoted('a'), quoted('b')] });
  assert.deepEqual(parse('tcp.port not in {80}'), { kind: 'not', item: { kind: 'in', field: 'tcp.port', members: [bare('80')] } });
});

test('contains, matches and its ~ spelling', () => {
  assert.deepEqual(parse('http.host contains "exa"'), { kind: 'contains', field: 'http.host', value: quoted('exa') });
  assert.deepEqual(parse('ip.src contains 0a:00'), { kind: 'contains', field: 'ip.src', value: bare('0a:00') });
  assert.deepEqual(parse('http.host matches "^www"'), { kind: 'matches', field: 'http.host', value: quoted('^www') });
  assert.deepEqual(parse('http.host ~ "^www"'), { kind: 'matches', field: 'http.host', value: quoted('^www') });
});

test('each construct without an exact translation is refused, naming it', () => {
  const cases: [string, string][] = [
    ['', 'an empty filter'],
    ['ip.src[0:2] == 0a:00', 'a slice (ip.src[...])'],
    ['ip.src#2 == 10.0.0.1', 'a layer operator (ip.src#...)'],
    ['len(http.host) > 5', 'the function len()'],
    ['tcp.port + 1 == 80', 'arithmetic or a bitwise operator ("+")'],
    ['tcp.port & 0x02', 'arithmetic or a bitwise operator ("&")'],
    ['tcp.port * 2 > 3', 'arithmetic or a bitwise operator ("*")'],
    ['tcp.port bitand 2', 'a bitwise and'],
    ['tcp.port == 80 + 1', 'arithmetic'],
    ['tcp.port == --80', 'a negative or computed value'],
    ['tcp.srcport == tcp.dstport', 'a comparison of two fields (… tcp.dstport)'],
    ['tcp.port == ${udp.port}', 'a field reference (${...})'],
    ['${tcp.port} == 80', 'a macro or field reference ($...)'],
    ['@tcp.port == 80', 'a raw field (@...)'],
    ["tcp.port == 'P'", "a character constant ('x')"],
    [String.raw`http.host == "\q"`, String.raw`the escape \q`],
    ['dns ^^ tcp', 'xor'],
    ['dns xor tcp', 'xor'],
    ['tcp.port in {.. 10}', 'a range without its start'],
    ['tcp.port ==', 'a comparison without a value'],
    ['80 == tcp.port', 'a comparison that does not start with a field ("80" here)'],
    ['tcp.port == 80 ; udp', '";"'],
    ['(dns', 'the end of the filter'],
    ['dns tcp', '"tcp" here'],
    ['tcp.port == 80 "x"', 'the string "x" here'],
  ];
  for (const [filter, construct] of cases) refused(filter, construct);
});
