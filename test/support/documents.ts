// Reading values out of espcap documents by Wireshark field abbreviation,
// by the documented path rule: layers.<protocol>.<rest of the abbreviation,
// dots as underscores>, wherever the item sat in the tree. The fields tests
// ask for are named by one-word protocols (ip, dns, tcp, ...), so <protocol>
// is the abbreviation's first word here.
import { Doc } from './programs';

function normalise(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, '_').replace(/^_+/, '');
}

/** The path of a field named by a one-word protocol: ["dns", "qry_name"] for dns.qry.name. */
export function pathOf(abbrev: string): [string, string] {
  const dot = abbrev.indexOf('.');
  if (dot < 0) throw new Error(`${abbrev} is a protocol, not a field`);
  return [normalise(abbrev.slice(0, dot)), normalise(abbrev.slice(dot + 1))];
}

/** Every value of the field in the document, at its path only, in document order. */
export function fieldValues(doc: Doc, abbrev: string): unknown[] {
  const [layerName, key] = pathOf(abbrev);
  const layer = (doc.layers as Record<string, unknown>)[layerName];
  const values: unknown[] = [];
  if (layer === undefined) return values;
  for (const occurrence of Array.isArray(layer) ? layer : [layer]) {
    const v = (occurrence as Record<string, unknown>)[key];
    if (v === undefined) continue;
    if (Array.isArray(v)) values.push(...v);
    else values.push(v);
  }
  return values;
}

/**
 * Checks raw JSON documents for what Elasticsearch rejects or mis-maps:
 * a key twice in one object (JSON.parse would silently keep the last), and a
 * path that is an object in one place and a value in another (across all
 * documents checked). Arrays are transparent: their elements share the path.
 */
export class ShapeChecker {
  readonly problems: string[] = [];
  private readonly kinds = new Map<string, 'object' | 'value'>();

  check(json: string): void {
    let i = 0;
    const fail = (message: string) => {
      if (this.problems.length < 100) this.problems.push(message);
    };
    const skipSpace = () => {
      while (json[i] === ' ' || json[i] === '\n' || json[i] === '\t' || json[i] === '\r') i++;
    };
    const readString = (): string => {
      const start = i;
      i++; // opening quote
      while (json[i] !== '"') i += json[i] === '\\' ? 2 : 1;
      i++;
      return JSON.parse(json.slice(start, i));
    };
    const note = (path: string, kind: 'object' | 'value') => {
      const seen = this.kinds.get(path);
      if (seen === undefined) this.kinds.set(path, kind);
      else if (seen !== kind) fail(`${path} is both an object and a value`);
    };
    const value = (path: string): void => {
      skipSpace();
      const c = json[i];
      if (c === '{') {
        note(path, 'object');
        i++;
        const keys = new Set<string>();
        skipSpace();
        if (json[i] === '}') {
          i++;
          return;
        }
        for (;;) {
          skipSpace();
          const key = readString();
          if (keys.has(key)) fail(`duplicate key ${path ? path + '.' : ''}${key}`);
          keys.add(key);
          skipSpace();
          i++; // colon
          value(path ? `${path}.${key}` : key);
          skipSpace();
          if (json[i++] === '}') return;
        }
      } else if (c === '[') {
        i++;
        skipSpace();
        if (json[i] === ']') {
          i++;
          return;
        }
        for (;;) {
          value(path);
          skipSpace();
          if (json[i++] === ']') return;
        }
      } else {
        note(path, 'value');
        if (c === '"') readString();
        else while (i < json.length && !',}] \n'.includes(json[i])) i++;
      }
    };
    value('');
  }
}
