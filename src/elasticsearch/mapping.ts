// The one place that decides how documents are mapped in Elasticsearch.
//
// Fixed document fields are mapped by the index template. layers.* fields are
// mapped explicitly, with types from Wireshark's field registry (every type
// registered under the field's abbreviation), as the engine reports them seen
// for the first time, and before a document carrying them is sent. `layers` is not dynamic: a field espcap did not map is kept in
// _source but never guessed at by Elasticsearch, so no document is rejected
// for a mapping conflict. Each index maps at most FIELD_BUDGET layer fields;
// beyond that, fields stay in _source only and the run reports how many.

export const INDEX_PREFIX = 'packets-';
export const TEMPLATE_NAME = 'espcap-packets';
/** Layer fields mapped per index at most; the index's field limit leaves room above it. */
export const FIELD_BUDGET = 8000;
const TOTAL_FIELDS_LIMIT = FIELD_BUDGET + 500;

export type EsMapping = Record<string, unknown>;

const keyword = { type: 'keyword', ignore_above: 8191 };

/** The ES type for one Wireshark type, as the engine writes its values. */
function esKind(ftype: string): string {
  switch (ftype) {
    case 'FT_NONE':
    case 'FT_PROTOCOL':
    case 'FT_BOOLEAN':
      return 'boolean';
    case 'FT_CHAR':
    case 'FT_UINT8':
    case 'FT_UINT16':
    case 'FT_INT8':
    case 'FT_INT16':
    case 'FT_INT24':
    case 'FT_INT32':
      return 'integer';
    case 'FT_UINT24':
    case 'FT_UINT32':
    case 'FT_FRAMENUM':
    case 'FT_UINT40':
    case 'FT_UINT48':
    case 'FT_UINT56':
    case 'FT_INT40':
    case 'FT_INT48':
    case 'FT_INT56':
    case 'FT_INT64':
      return 'long';
    case 'FT_UINT64':
      return 'unsigned_long';
    case 'FT_FLOAT':
    case 'FT_DOUBLE':
    case 'FT_RELATIVE_TIME': // seconds, as a number
      return 'double';
    case 'FT_ABSOLUTE_TIME':
      return 'date';
    case 'FT_IPv4':
    case 'FT_IPv6':
      return 'ip';
    default:
      // Strings, hex bytes, MAC addresses, OIDs, GUIDs, ...
      return 'keyword';
  }
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

/** The composable index template for packets-*: fixed fields and settings. */
export function indexTemplate(): EsMapping {
  const endpoint = { properties: { ip: { type: 'ip' }, port: { type: 'long' }, mac: keyword } };
  return {
    index_patterns: [`${INDEX_PREFIX}*`],
    priority: 200,
    _meta: { description: 'espcap packet documents', managed_by: 'espcap' },
    template: {
      settings: {
        'index.mapping.total_fields.limit': TOTAL_FIELDS_LIMIT,
        'index.number_of_shards': 1,
      },
      mappings: {
        dynamic: false,
        properties: {
          '@timestamp': { type: 'date_nanos', ignore_malformed: true },
          sniff_timestamp: { type: 'date', format: 'epoch_millis' },
          sniff_date_utc: { type: 'date', format: 'strict_date_hour_minute_second' },
          file_date_utc: { type: 'date', format: 'strict_date_hour_minute_second' },
          protocol: keyword,
          capture: keyword,
          capture_id: keyword,
          file_name: keyword,
          frame_number: { type: 'long' },
          captured_length: { type: 'long' },
          length: { type: 'long' },
          interface_id: { type: 'integer' },
          source: endpoint,
          destination: endpoint,
          network: { properties: { transport: keyword, type: keyword, protocol: keyword } },
          layers: { type: 'object', dynamic: false },
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
