// A Wireshark display filter turned into an Elasticsearch query: libwireshark
// checks it first (in a disposable process), its field registry tells each
// field's layer, key and value kind, and translate.ts does the rest or
// refuses with the construct it cannot translate exactly.
import { UsageError } from '../errors';
import { checkDisplayFilter, documentContract, fieldRegistry, initEngine, ValueKind } from '../engine/engine';
import { parseDisplayFilter, UntranslatableFilter } from './display-filter';
import { EITHER_DIRECTION, EsQuery, FieldInfo, translateFilter } from './translate';

/** The display filter checked by epan, then translated; a UsageError (exit 2) names what is wrong or untranslatable. */
export async function translateDisplayFilter(filter: string): Promise<EsQuery> {
  const problem = await checkDisplayFilter(filter);
  if (problem) throw new UsageError(`--query: invalid display filter "${filter}": ${problem}`);
  await initEngine();
  const valueKinds = (await documentContract()).valueKinds;
  const registered = new Map<string, { layer: string; key: string; kinds: Set<ValueKind>; protocol: boolean }>();
  // Only the names the filter uses (and what they expand to) are looked up.
  const words = new Set(filter.match(/[A-Za-z0-9_.:/-]+/g) ?? []);
  for (const word of [...words]) for (const expansion of EITHER_DIRECTION[word] ?? []) words.add(expansion);
  for (const f of await fieldRegistry(words)) {
    const known = registered.get(f.abbrev) ?? { layer: f.layer, key: f.key, kinds: new Set<ValueKind>(), protocol: false };
    known.kinds.add(valueKinds[f.type] ?? 'display');
    if (f.type === 'FT_PROTOCOL' && f.key === '') known.protocol = true;
    registered.set(f.abbrev, known);
  }
  const single = (abbrev: string): FieldInfo => {
    const f = registered.get(abbrev);
    if (!f) throw new UntranslatableFilter(`the field ${abbrev}`); // epan knew it: a name only a filter macro or plugin gives
    if (f.protocol) return { paths: ['protocols'], kind: 'present', protocol: abbrev };
    if (f.kinds.size > 1) throw new UntranslatableFilter(`${abbrev}, registered with values of several kinds (${[...f.kinds].join(', ')})`);
    const kind = [...f.kinds][0];
    if (abbrev === 'frame.time') return { paths: ['@timestamp'], kind };
    return { paths: [`layers.${f.layer}.${f.key}`], kind };
  };
  const fieldInfo = (abbrev: string): FieldInfo => {
    const pair = EITHER_DIRECTION[abbrev];
    if (!pair) return single(abbrev);
    const [a, b] = pair.map(single);
    return { paths: [...a.paths, ...b.paths], kind: a.kind };
  };
  return translateFilter(parseDisplayFilter(filter, (name) => registered.has(name)), fieldInfo);
}
