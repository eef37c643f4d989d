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
          interface_name: keyword,
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
