// Wireshark display filters read into a tree that search/translate.ts turns
// into an Elasticsearch query. epan checks every filter first (the engine's
// checkFilter): what reaches this parser is valid Wireshark, so it only has
// to recognise the constructs espcap translates, and name any other one
// (slices, functions, arithmetic, field-to-field comparisons, ...) so the
// user is told instead of being given a different query.
import { UsageError } from '../errors';

/** A value as written: quoted ("...", r"...") or bare (80, 10.0.0.0/8, 00:11:22:33:44:55, GET). */
export interface Literal {
  text: string;
  quoted: boolean;
}

/**
 * Wireshark 4.0's comparisons, by what they mean for a field that occurs
 * several times in a packet: == any value equal; != no value equal (and the
 * field there); === every value equal; !== (~=) some value not equal.
 */
export type Comparison = 'any_eq' | 'all_ne' | 'all_eq' | 'any_ne' | 'gt' | 'ge' | 'lt' | 'le';

export type FilterNode =
  | { kind: 'and' | 'or'; items: FilterNode[] }
  | { kind: 'not'; item: FilterNode }
  | { kind: 'present'; field: string }
  | { kind: 'compare'; field: string; op: Comparison; value: Literal }
  | { kind: 'in'; field: string; members: (Literal | { from: Literal; to: Literal })[] }
  | { kind: 'contains'; field: string; value: Literal }
  | { kind: 'matches'; field: string; value: Literal };

/** A valid Wireshark filter using a construct espcap does not translate: exit 2, naming it. */
export class UntranslatableFilter extends UsageError {
  constructor(construct: string) {
    super(`--query: ${construct} cannot be translated into an Elasticsearch query exactly; not searched`);
  }
}

type Token = { kind: 'op' | 'word' | 'string'; text: string; at: number };

const COMPARISONS: Record<string, Comparison> = {
  '==': 'any_eq', eq: 'any_eq', any_eq: 'any_eq',
  '!=': 'all_ne', ne: 'all_ne', all_ne: 'all_ne',
  '===': 'all_eq', all_eq: 'all_eq',
  '!==': 'any_ne', '~=': 'any_ne', any_ne: 'any_ne',
  '>': 'gt', gt: 'gt', '>=': 'ge', ge: 'ge',
  '<': 'lt', lt: 'lt', '<=': 'le', le: 'le',
};

// Longest first.
const SYMBOLS = ['===', '!==', '==', '!=', '~=', '>=', '<=', '&&', '||', '^^', '..', '>', '<', '!', '(', ')', '{', '}', ',', '[', ']', '~', '&', '|', '+', '*', '%', '$', '@', '#', '-'];
const BARE = /[A-Za-z0-9_.:/\-]/;

function tokenize(filter: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < filter.length) {
    const c = filter[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"' || ((c === 'r' || c === 'R') && filter[i + 1] === '"')) {
      const raw = c !== '"';
      const at = i;
      i += raw ? 2 : 1;
      let text = '';
      while (i < filter.length && filter[i] !== '"') {
        if (filter[i] === '\\' && !raw) {
          const [value, used] = unescape(filter, i + 1);
          text += value;
          i += 1 + used;
        } else if (filter[i] === '\\' && raw) {
          text += filter.slice(i, i + 2);
          i += 2;
        } else text += filter[i++];
      }
      i++; // closing quote
      tokens.push({ kind: 'string', text, at });
      continue;
    }
    if (c === "'") throw new UntranslatableFilter('a character constant (\'x\')');
    // A bare word: field names and values (80, 10.0.0.0/8, fe80::1, 00:11:22:33:44:55, 1..10 in a set).
    if (BARE.test(c) && !(c === '-' && filter[i + 1] === '-')) {
      const at = i;
      while (i < filter.length && BARE.test(filter[i])) i++;
      tokens.push({ kind: 'word', text: filter.slice(at, i), at });
      continue;
    }
    const symbol = SYMBOLS.find((s) => filter.startsWith(s, i));
    if (!symbol) throw new UntranslatableFilter(`"${c}"`);
    tokens.push({ kind: 'op', text: symbol, at: i });
    i += symbol.length;
  }
  return tokens;
}

/** One escape sequence of a quoted string, from just after the backslash: its value and the characters it used. */
function unescape(s: string, i: number): [string, number] {
  const c = s[i];
  const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '\\': '\\', '"': '"', "'": "'" };
  if (c in simple) return [simple[c], 1];
  if (c === 'x') {
    const hex = /^[0-9a-fA-F]{1,2}/.exec(s.slice(i + 1))![0];
    return [String.fromCharCode(parseInt(hex, 16)), 1 + hex.length];
  }
  if (/[0-7]/.test(c)) {
    const oct = /^[0-7]{1,3}/.exec(s.slice(i))![0];
    return [String.fromCharCode(parseInt(oct, 8)), oct.length];
  }
  throw new UntranslatableFilter(`the escape \\${c}`);
}

/** Reads a filter epan has accepted. `isField` says whether a bare word names a registered field or protocol. */
export function parseDisplayFilter(filter: string, isField: (name: string) => boolean): FilterNode {
  const tokens = tokenize(filter);
  let at = 0;
  const peek = () => tokens[at];
  const isWord = (t: Token | undefined, ...words: string[]) => t !== undefined && t.kind === 'word' && words.includes(t.text.toLowerCase());
  const isOp = (t: Token | undefined, ...ops: string[]) => t !== undefined && t.kind === 'op' && ops.includes(t.text);
  const expect = (op: string) => {
    if (!isOp(peek(), op)) throw new UntranslatableFilter(describe(peek()));
    at++;
  };

  const orExpr = (): FilterNode => {
    const items = [andExpr()];
    while (isOp(peek(), '||') || isWord(peek(), 'or')) {
      at++;
      items.push(andExpr());
    }
    if (isOp(peek(), '^^') || isWord(peek(), 'xor')) throw new UntranslatableFilter('xor');
    return items.length === 1 ? items[0] : { kind: 'or', items };
  };
  const andExpr = (): FilterNode => {
    const items = [notExpr()];
    while (isOp(peek(), '&&') || isWord(peek(), 'and')) {
      at++;
      items.push(notExpr());
    }
    return items.length === 1 ? items[0] : { kind: 'and', items };
  };
  const notExpr = (): FilterNode => {
    if (isOp(peek(), '!') || isWord(peek(), 'not')) {
      at++;
      return { kind: 'not', item: notExpr() };
    }
    if (isOp(peek(), '(')) {
      at++;
      const inner = orExpr();
      expect(')');
      return inner;
    }
    return test();
  };
  const field = (): string => {
    const t = peek();
    if (t?.kind === 'word' && isField(t.text)) {
      at++;
      if (isOp(peek(), '[')) throw new UntranslatableFilter(`a slice (${t.text}[...])`);
      if (isOp(peek(), '#')) throw new UntranslatableFilter(`a layer operator (${t.text}#...)`);
      if (isOp(peek(), '(')) throw new UntranslatableFilter(`a function (${t.text}(...))`);
      return t.text;
    }
    if (t?.kind === 'word' && isOp(tokens[at + 1], '(')) throw new UntranslatableFilter(`the function ${t.text}()`);
    if (isOp(t, '$', '@')) throw new UntranslatableFilter(isOp(t, '$') ? 'a macro or field reference ($...)' : 'a raw field (@...)');
    if (isOp(t, '.')) throw new UntranslatableFilter('a field reference (.name)');
    throw new UntranslatableFilter(t ? `a comparison that does not start with a field (${describe(t)})` : 'an empty filter');
  };
  const value = (): Literal => {
    const t = peek();
    if (t === undefined) throw new UntranslatableFilter('a comparison without a value');
    if (t.kind === 'string') {
      at++;
      return { text: t.text, quoted: true };
    }
    if (t.kind === 'word') {
      if (t.text === '..') throw new UntranslatableFilter('a range without its start');
      if (isField(t.text)) throw new UntranslatableFilter(`a comparison of two fields (… ${t.text})`);
      at++;
      return { text: t.text, quoted: false };
    }
    if (isOp(t, '$')) throw new UntranslatableFilter('a field reference (${...})');
    if (isOp(t, '-')) throw new UntranslatableFilter('a negative or computed value');
    throw new UntranslatableFilter(describe(t));
  };
  const test = (): FilterNode => {
    const name = field();
    const t = peek();
    if (isOp(t, '&', '|', '+', '*', '%', '-')) throw new UntranslatableFilter(`arithmetic or a bitwise operator ("${t!.text}")`);
    if (isWord(t, 'bitand', 'bitwise_and')) throw new UntranslatableFilter('a bitwise and');
    const comparison = t && (t.kind === 'op' || t.kind === 'word') ? COMPARISONS[t.kind === 'word' ? t.text.toLowerCase() : t.text] : undefined;
    if (comparison) {
      at++;
      const v = value();
      if (isOp(peek(), '&', '|', '+', '*', '%', '-')) throw new UntranslatableFilter('arithmetic');
      return { kind: 'compare', field: name, op: comparison, value: v };
    }
    if (isWord(t, 'contains')) {
      at++;
      return { kind: 'contains', field: name, value: value() };
    }
    if (isWord(t, 'matches') || isOp(t, '~')) {
      at++;
      return { kind: 'matches', field: name, value: value() };
    }
    if (isWord(t, 'in') || (isWord(t, 'not') && isWord(tokens[at + 1], 'in'))) {
      const negated = isWord(t, 'not');
      at += negated ? 2 : 1;
      expect('{');
      const members: (Literal | { from: Literal; to: Literal })[] = [];
      while (!isOp(peek(), '}')) {
        const m = peek();
        // "1..10" comes as one bare word; "1 .. 10" as three tokens.
        const range = m?.kind === 'word' ? /^(.+?)\.\.(.+)$/.exec(m.text) : null;
        if (range) {
          at++;
          members.push({ from: { text: range[1], quoted: false }, to: { text: range[2], quoted: false } });
        } else {
          const from = value();
          const dots = peek();
          if (dots?.text === '..') {
            at++;
            members.push({ from, to: value() });
          } else members.push(from);
        }
        if (isOp(peek(), ',')) at++;
      }
      expect('}');
      const node: FilterNode = { kind: 'in', field: name, members };
      return negated ? { kind: 'not', item: node } : node;
    }
    return { kind: 'present', field: name };
  };

  const tree = orExpr();
  if (at < tokens.length) throw new UntranslatableFilter(describe(tokens[at]));
  return tree;
}

function describe(t: Token | undefined): string {
  if (!t) return 'the end of the filter';
  return t.kind === 'string' ? `the string "${t.text}" here` : `"${t.text}" here`;
}
