// The one place that decides how documents are mapped in Elasticsearch.
//
// Fixed document fields are mapped by the index template. layers.* fields are
// mapped explicitly, with types from Wireshark's field registry (every type
// registered under the field's abbreviation), as the engine reports them seen
// for the first time, and before a document carrying them is sent. `layers` is not dynamic: a field espcap did not map is kept in
// _source but never guessed at by Elasticsearch, so no document is rejected
// for a mapping conflict. Each index maps at most FIELD_BUDGET layer fields;
// beyond that, fields stay in _source only and the run reports how many.

/**
 * Where packets go: `<prefix>-<period>` by the packet's UTC time, like
 * Arkime's rotateIndex: packets-2015-07-30 (day), packets-2015-w31 (ISO
 * week; index names are lower case), packets-2015-07 (month), packets-2015 (year).
 */
export type IndexPeriod = 'day' | 'week' | 'month' | 'year';
export const INDEX_PERIODS: readonly IndexPeriod[] = ['day', 'week', 'month', 'year'];

export interface IndexLayout {
  prefix: string;
  period: IndexPeriod;
}

/** The index of a packet of UTC day `day` (YYYY-MM-DD). */
export function indexName(layout: IndexLayout, day: string): string {
  switch (layout.period) {
    case 'day':
      return `${layout.prefix}-${day}`;
    case 'month':
      return `${layout.prefix}-${day.slice(0, 7)}`;
    case 'year':
      return `${layout.prefix}-${day.slice(0, 4)}`;
    case 'week': {
      // ISO 8601: weeks start on Monday; a week belongs to the year of its Thursday.
      const date = Date.UTC(Number(day.slice(0, 4)), Number(day.slice(5, 7)) - 1, Number(day.slice(8, 10)));
      const monday0 = (new Date(date).getUTCDay() + 6) % 7;
      const thursday = new Date(date + (3 - monday0) * 86400000);
      const year = thursday.getUTCFullYear();
      const ordinal = (thursday.getTime() - Date.UTC(year, 0, 1)) / 86400000; // 0-based day of the year
      const week = Math.floor(ordinal / 7) + 1;
      return `${layout.prefix}-${String(year).padStart(4, '0')}-w${String(week).padStart(2, '0')}`;
    }
  }
}

/** Every packet index of a layout's prefix. */
export function indexPattern(layout: { prefix: string }): string {
  return `${layout.prefix}-*`;
}

/** The index template of a prefix: espcap-packets for the default. */
export function templateName(layout: { prefix: string }): string {
  return `espcap-${layout.prefix}`;
}
/** Layer fields mapped per index at most; the index's field limit leaves room above it. */
export const FIELD_BUDGET = 8000;
const TOTAL_FIELDS_LIMIT = FIELD_BUDGET + 500;

export type EsMapping = Record<string, unknown>;

const keyword = { type: 'keyword', ignore_above: 8191 };

/**
 * The Elasticsearch type of every Wireshark field type, for the values the
 * engine writes for it (native/document_contract.h says how: a number for
 * FT_UINT32, an ISO string for FT_ABSOLUTE_TIME, ...). test/native-contract
 * checks that this lists every type of the linked libwireshark and fits the
 * engine's way of writing each.
 */
export const FT_ES_TYPES: Readonly<Record<string, string>> = {
  // true for items that mark by being there; true or false
  FT_NONE: 'boolean',
  FT_PROTOCOL: 'boolean',
  FT_BOOLEAN: 'boolean',
  // numbers
  FT_CHAR: 'integer',
  FT_UINT8: 'integer',
  FT_UINT16: 'integer',
  FT_UINT24: 'long',
  FT_UINT32: 'long',
  FT_FRAMENUM: 'long',
  FT_UINT40: 'long',
  FT_UINT48: 'long',
  FT_UINT56: 'long',
  FT_UINT64: 'unsigned_long',
  FT_INT8: 'integer',
  FT_INT16: 'integer',
  FT_INT24: 'integer',
  FT_INT32: 'integer',
  FT_INT40: 'long',
  FT_INT48: 'long',
  FT_INT56: 'long',
  FT_INT64: 'long',
  FT_FLOAT: 'double',
  FT_DOUBLE: 'double',
  FT_RELATIVE_TIME: 'double', // seconds, as a number
  FT_ABSOLUTE_TIME: 'date',
  FT_IPv4: 'ip',
  FT_IPv6: 'ip',
  // strings: text, hex bytes, MAC addresses, and Wireshark's display form of the rest
  FT_STRING: 'keyword',
  FT_STRINGZ: 'keyword',
  FT_UINT_STRING: 'keyword',
  FT_STRINGZPAD: 'keyword',
  FT_STRINGZTRUNC: 'keyword',
  FT_BYTES: 'keyword',
  FT_UINT_BYTES: 'keyword',
  FT_ETHER: 'keyword',
  FT_IEEE_11073_SFLOAT: 'keyword',
  FT_IEEE_11073_FLOAT: 'keyword',
  FT_IPXNET: 'keyword',
  FT_GUID: 'keyword',
  FT_OID: 'keyword',
  FT_EUI64: 'keyword',
  FT_AX25: 'keyword',
  FT_VINES: 'keyword',
  FT_REL_OID: 'keyword',
  FT_SYSTEM_ID: 'keyword',
  FT_FCWWN: 'keyword',
};

/** The ES type for one Wireshark type; a type this libwireshark added since is written in its display form, a string. */
function esKind(ftype: string): string {
  return FT_ES_TYPES[ftype] ?? 'keyword';
}

const NUMERIC = ['integer', 'long', 'unsigned_long', 'double'];

/** One ES type that accepts the values of all the given Wireshark types. */
export function esTypeFor(ftypes: Iterable<string>): string {
  const kinds = new Set([...ftypes].map(esKind));
  if (kinds.size === 1) return [...kinds][0];
  if ([...kinds].every((k) => NUMERIC.includes(k) || k === 'boolean')) {
    // Numbers widen; a presence marker (true) beside numbers is ignored as malformed.
    if (kinds.has('double')) return 'double';
    if (kinds.has('unsigned_long')) return kinds.has('integer') || kinds.has('long') ? 'double' : 'unsigned_long';
    if (kinds.has('long')) return 'long';
    if (kinds.has('integer')) return 'integer';
  }
  return 'keyword';
}

/** The mapping of one layer field of ES type `type`. */
export function fieldMapping(type: string): EsMapping {
  switch (type) {
    case 'keyword':
      return keyword;
    case 'boolean':
      return { type: 'boolean' };
    case 'date':
      // Wireshark times can be far outside date_nanos' 1970-2262; date keeps milliseconds.
      return { type: 'date', format: 'strict_date_optional_time_nanos', ignore_malformed: true };
    default:
      return { type, ignore_malformed: true };
  }
}

/**
 * The ES type of a layer field, given every Wireshark type registered under its
 * abbreviation (the engine reports them with each first-seen field).
 * unsignedLong: the cluster has the unsigned_long type; otherwise 64-bit
 * unsigned fields are doubles.
 */
export function layerFieldType(registeredTypes: string[], unsignedLong: boolean): string {
  const type = esTypeFor(registeredTypes);
  return type === 'unsigned_long' && !unsignedLong ? 'double' : type;
}

/**
 * The composable index template for `<prefix>-*`: fixed fields and settings.
 * One replica where a second node can hold it, none on a single node
 * (auto_expand_replicas), so a single-node cluster stays green.
 */
export function indexTemplate(layout: { prefix: string; shards: number } = { prefix: 'packets', shards: 1 }, layers?: { properties?: EsMapping }): EsMapping {
  const endpoint = { properties: { ip: { type: 'ip' }, port: { type: 'long' }, mac: keyword } };
  return {
    index_patterns: [indexPattern(layout)],
    priority: 200,
    _meta: { description: 'espcap packet documents', managed_by: 'espcap' },
    template: {
      settings: {
        'index.mapping.total_fields.limit': TOTAL_FIELDS_LIMIT,
        'index.number_of_shards': layout.shards,
        // 0 at creation, so that the shard limit counts what a single node will hold; a second node raises it to 1.
        'index.number_of_replicas': 0,
        'index.auto_expand_replicas': '0-1',
        // Packet documents repeat themselves: stored with DEFLATE/zstd instead of LZ4 they take
        // 0.6x the bytes on disk at no measurable cost in ingest rate (bench/results/storage.md).
        'index.codec': 'best_compression',
      },
      mappings: {
        dynamic: false,
        properties: {
          '@timestamp': { type: 'date_nanos', ignore_malformed: true },
          sniff_timestamp: { type: 'date', format: 'epoch_millis' },
          sniff_date_utc: { type: 'date', format: 'strict_date_hour_minute_second' },
          file_date_utc: { type: 'date', format: 'strict_date_hour_minute_second' },
          protocol: keyword,
          protocols: keyword,
          capture: keyword,
          capture_id: keyword,
          interface_name: keyword,
          file_name: keyword,
          frame_number: { type: 'long' },
          session_start_frame: { type: 'long' },
          captured_length: { type: 'long' },
          length: { type: 'long' },
          interface_id: { type: 'integer' },
          source: endpoint,
          destination: endpoint,
          network: { properties: { transport: keyword, type: keyword, protocol: keyword } },
          // Layer fields are added as espcap meets them (bulk-sink.ts: updateTemplate); `layers` keeps those already there.
          layers: { type: 'object', dynamic: false, ...(layers?.properties && { properties: layers.properties }) },
        },
      },
    },
  };
}

/** The properties to add under layers for new fields: { ip: { properties: { src: {type: ip} } } }. */
export function layerProperties(fields: { layer: string; key: string; type: string }[]): EsMapping {
  const layers: Record<string, { properties: Record<string, EsMapping> }> = {};
  for (const f of fields) (layers[f.layer] ??= { properties: {} }).properties[f.key] = fieldMapping(f.type);
  return { properties: { layers: { properties: layers } } };
}
