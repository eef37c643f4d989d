// Every command-line flag is defined and checked here, and nowhere else.
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { UsageError } from '../errors';
import type { DissectOptions } from '../pipeline/dissect-file';

export const USAGE = `Usage: espcap (--file FILE... | --dir DIR | --nic IFACE | --list-interfaces) [options]

Reads packets, dissects them with Wireshark's dissectors and prints them, writes
them as NDJSON documents, or indexes them into Elasticsearch.

Input (exactly one):
  --file FILE            a capture file (pcap, pcapng, compressed, any format Wireshark
                         reads); repeat for several files
  --dir DIR              every capture under DIR, recursively, in sorted order
  --nic IFACE            live capture from a network interface
  --list-interfaces      list capture interfaces (alias: --list)

Output (default: packets printed for a person to read):
  --output FILE          write one JSON document per packet (NDJSON) to FILE, - for stdout
  --node URL[,URL...]    index into Elasticsearch (host:port or URL; several nodes of one
                         cluster comma-separated), into one index per UTC day: packets-YYYY-MM-DD

Elasticsearch:
  --chunk N              packets per bulk request (default 1000, at most 100000)
  --bulk-mb N            bytes per bulk request at most, in MiB (default 8, at most 100:
                         Elasticsearch refuses larger requests by default)
  --bulk-inflight N      bulk requests in flight at once (default 3)
  --retry-deadline S     keep retrying a failing request for S seconds (default 300)
  --refresh-interval T   refresh interval of the indices espcap creates (default 30s: fast
                         bulk ingest; espcap refreshes them itself when it is done)
  --dead-letter FILE     where documents Elasticsearch refused go, with the reason
                         (default espcap-dead-letter.ndjson)
  --username USER        basic authentication; the password comes from the environment
                         variable ESPCAP_PASSWORD or from --password-file
  --password-file FILE   a file holding the password
  --api-key-file FILE    a file holding an API key (or the variable ESPCAP_API_KEY)
  --api-key KEY          an API key on the command line (visible to other users in ps)
  --ca-cert FILE         CA certificate(s), PEM, to verify the cluster's TLS certificate
  --insecure             do not verify TLS certificates (prints a warning)

Selection:
  --count N              stop after N packets
  --filter EXPR          keep only packets matching a Wireshark display filter
  --bpf EXPR             capture filter (BPF) for live capture

Live capture (--nic):
  --snaplen N            bytes captured per packet at most (default 262144)
  --no-promisc           do not put the interface into promiscuous mode (default: do)
  --buffer-size MB       kernel capture buffer in MiB (default 32: absorbs bursts)
  --user USER            when started as root: the user espcap runs as once the
                         interface is open, before any packet is dissected (default nobody)
  --stats-interval S     every S seconds, capture counters as a JSON line on stderr
                         (captured, dissected, kernel/interface/espcap drops); 0 never (default)

Documents:
  --max-bytes N          leave out byte fields longer than N bytes (default 64, 0 keeps all)

Parallel ingest:
  --workers N            dissecting processes at once, each taking whole files, largest
                         first (default: the number of cores; 1 when writing to standard
                         output, to keep file order, and with --count)
  --no-resume            with --node: index every file again, also those a previous run
                         recorded as fully indexed (documents already there count as
                         duplicates)

Memory:
  --session-packets N    reset Wireshark's per-capture state every N packets (default 100000,
                         0 never), like tshark -M
  --worker-max-rss MB    replace a dissecting process grown past MB at its next session reset,
                         so its output stays the same (at once past twice MB; default 400)

  --quiet                no progress display or summary on stderr
  --help                 this text

Exit codes: 0 success, 1 a capture or output failed, 2 a wrong command line.`;

export type Mode =
  | { kind: 'files'; files: string[] }
  | { kind: 'dir'; dir: string }
  | { kind: 'nic'; nic: string }
  | { kind: 'list-interfaces' }
  | { kind: 'help' };

export interface ElasticsearchFlags {
  node: string;
  bulkMb: number;
  bulkInflight: number;
  retryDeadlineSeconds: number;
  refreshInterval: string;
  deadLetter: string;
  username?: string;
  passwordFile?: string;
  apiKey?: string;
  apiKeyFile?: string;
  caCert?: string;
  insecure: boolean;
}

export interface LiveFlags {
  snaplen: number;
  promisc: boolean;
  bufferMb: number;
  user: string;
  statsIntervalSeconds: number;
}

export interface Options {
  mode: Mode;
  live: LiveFlags;
  output?: string;
  node?: string;
  elasticsearch?: ElasticsearchFlags;
  chunk: number;
  count: number;
  filter?: string;
  bpf?: string;
  maxBytes: number;
  sessionPackets: number;
  workerMaxRssMb: number;
  /** Dissecting processes at once. */
  workers: number;
  /** Skip files a previous run recorded as fully indexed (--node only). */
  resume: boolean;
  quiet: boolean;
  /** Benchmark only: dissect with a full tree but write nothing. */
  dissectOnly: boolean;
}

function integer(flag: string, value: string | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value.trim())) throw new UsageError(`--${flag} needs a whole number, got "${value}"`);
  const n = Number(value);
  if (n >= min && n <= max) return n;
  if (max !== Number.MAX_SAFE_INTEGER) throw new UsageError(`--${flag} must be between ${min} and ${max}, got ${value.trim()}`);
  throw new UsageError(n < min ? `--${flag} must be at least ${min}, got ${value.trim()}` : `--${flag} is too large: ${value.trim()}`);
}

/** An Elasticsearch time value: 500ms, 30s, 1m, or -1 (never). */
function timeValue(flag: string, value: string | undefined, fallback: string): string {
  if (value === undefined) return fallback;
  if (!/^(-1|\d+(ms|s|m|h))$/.test(value)) throw new UsageError(`--${flag} needs a time such as 5s, 30s or 1m, got "${value}"`);
  return value;
}

function nonEmpty(flag: string, value: string | undefined): string | undefined {
  if (value !== undefined && value.trim() === '') throw new UsageError(`--${flag} needs a value`);
  return value;
}

export function parseCommandLine(argv: string[]): Options {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        file: { type: 'string', multiple: true },
        dir: { type: 'string' },
        nic: { type: 'string' },
        'list-interfaces': { type: 'boolean' },
        list: { type: 'boolean' },
        output: { type: 'string', short: 'o' },
        node: { type: 'string' },
        chunk: { type: 'string' },
        'bulk-mb': { type: 'string' },
        'bulk-inflight': { type: 'string' },
        'retry-deadline': { type: 'string' },
        'refresh-interval': { type: 'string' },
        'dead-letter': { type: 'string' },
        username: { type: 'string' },
        'password-file': { type: 'string' },
        'api-key': { type: 'string' },
        'api-key-file': { type: 'string' },
        'ca-cert': { type: 'string' },
        insecure: { type: 'boolean' },
        count: { type: 'string' },
        filter: { type: 'string' },
        bpf: { type: 'string' },
        'max-bytes': { type: 'string' },
        'session-packets': { type: 'string' },
        'worker-max-rss': { type: 'string' },
        workers: { type: 'string' },
        'no-resume': { type: 'boolean' },
        snaplen: { type: 'string' },
        promisc: { type: 'boolean' },
        'no-promisc': { type: 'boolean' },
        'buffer-size': { type: 'string' },
        user: { type: 'string' },
        'stats-interval': { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
        'dissect-only': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message.split('\n')[0]} (see --help)`);
  }
  const v = parsed.values;
  if (v.help) return { ...defaults(), mode: { kind: 'help' } };

  const files = (v.file ?? []).map((f) => nonEmpty('file', f) as string);
  const modes: Mode[] = [];
  if (files.length) modes.push({ kind: 'files', files });
  if (v.dir !== undefined) modes.push({ kind: 'dir', dir: nonEmpty('dir', v.dir) as string });
  if (v.nic !== undefined) modes.push({ kind: 'nic', nic: nonEmpty('nic', v.nic) as string });
  if (v['list-interfaces'] || v.list) modes.push({ kind: 'list-interfaces' });
  if (modes.length === 0) throw new UsageError('no input given: use --file, --dir, --nic or --list-interfaces (see --help)');
  if (modes.length > 1) throw new UsageError('give only one of --file, --dir, --nic and --list-interfaces');
  if (v.output !== undefined && v.node !== undefined) throw new UsageError('give either --output or --node, not both');
  if (v.bpf !== undefined && modes[0].kind !== 'nic') throw new UsageError('--bpf filters live capture (--nic); to select packets of capture files use --filter');
  const node = nonEmpty('node', v.node);
  let elasticsearch: ElasticsearchFlags | undefined;
  if (node !== undefined) {
    if (v['api-key'] !== undefined && v['api-key-file'] !== undefined) throw new UsageError('give either --api-key or --api-key-file, not both');
    if ((v['api-key'] ?? v['api-key-file']) !== undefined && v.username !== undefined) throw new UsageError('give either an API key or --username, not both');
    elasticsearch = {
      node,
      bulkMb: integer('bulk-mb', v['bulk-mb'], 8, 1, 100),
      bulkInflight: integer('bulk-inflight', v['bulk-inflight'], 3, 1, 64),
      retryDeadlineSeconds: integer('retry-deadline', v['retry-deadline'], 300, 0, 7 * 24 * 3600),
      refreshInterval: timeValue('refresh-interval', v['refresh-interval'], '30s'),
      deadLetter: nonEmpty('dead-letter', v['dead-letter']) ?? 'espcap-dead-letter.ndjson',
      username: nonEmpty('username', v.username),
      passwordFile: nonEmpty('password-file', v['password-file']),
      apiKey: nonEmpty('api-key', v['api-key']),
      apiKeyFile: nonEmpty('api-key-file', v['api-key-file']),
      caCert: nonEmpty('ca-cert', v['ca-cert']),
      insecure: v.insecure ?? false,
    };
  }

  if (v['no-resume'] && node === undefined) throw new UsageError('--no-resume applies to indexing (--node) only');
  const isLive = modes[0].kind === 'nic';
  for (const flag of ['snaplen', 'promisc', 'no-promisc', 'buffer-size', 'user', 'stats-interval'] as const)
    if (v[flag] !== undefined && !isLive) throw new UsageError(`--${flag} applies to live capture (--nic) only`);
  if (v.promisc && v['no-promisc']) throw new UsageError('give either --promisc or --no-promisc, not both');
  if (isLive && v.workers !== undefined && v.workers !== '1') throw new UsageError('live capture dissects in one process at a time: leave out --workers');
  const live: LiveFlags = {
    snaplen: integer('snaplen', v.snaplen, 262144, 64, 262144),
    promisc: !v['no-promisc'],
    bufferMb: integer('buffer-size', v['buffer-size'], 32, 1, 4096),
    user: nonEmpty('user', v.user) ?? 'nobody',
    statsIntervalSeconds: integer('stats-interval', v['stats-interval'], 0, 0, 86400),
  };
  const count = integer('count', v.count, 0, 1);
  const toStdout = node === undefined && (v.output === undefined || v.output === '-');
  const workers = integer('workers', v.workers, toStdout || count || isLive ? 1 : availableParallelism(), 1, 256);
  if (workers > 1 && toStdout) throw new UsageError('--workers above 1 needs --output FILE or --node: on standard output the packets of several files would interleave');
  if (workers > 1 && count) throw new UsageError('--count takes the first packets in file order, with one worker: leave out --workers');
  return {
    mode: modes[0],
    live,
    output: nonEmpty('output', v.output),
    node,
    elasticsearch,
    chunk: integer('chunk', v.chunk, 1000, 1, 100000),
    count,
    filter: nonEmpty('filter', v.filter),
    bpf: nonEmpty('bpf', v.bpf),
    maxBytes: integer('max-bytes', v['max-bytes'], 64, 0, 0xffffffff),
    sessionPackets: integer('session-packets', v['session-packets'], 100000, 0),
    workerMaxRssMb: integer('worker-max-rss', v['worker-max-rss'], 400, 64, 1024 * 1024),
    workers,
    resume: !v['no-resume'],
    quiet: v.quiet ?? false,
    dissectOnly: v['dissect-only'] ?? false,
  };
}

/** What the dissecting processes are told, from the flags. */
export function dissectOptions(options: Options): DissectOptions {
  return {
    filter: options.filter,
    maxBytes: options.maxBytes,
    sessionPackets: options.sessionPackets,
    maxRssBytes: options.workerMaxRssMb * 1024 * 1024,
    dissectOnly: options.dissectOnly,
  };
}

function defaults(): Omit<Options, 'mode'> {
  return {
    live: { snaplen: 262144, promisc: true, bufferMb: 32, user: 'nobody', statsIntervalSeconds: 0 },
    chunk: 1000,
    count: 0,
    maxBytes: 64,
    sessionPackets: 100000,
    workerMaxRssMb: 400,
    workers: 1,
    resume: true,
    quiet: false,
    dissectOnly: false,
  };
}
