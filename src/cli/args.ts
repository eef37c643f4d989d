// Every command-line flag is defined here, once: its name, its help, its
// default and the parser that checks it (commander generates --help from
// them). The environment variables espcap reads are read here too. What the
// flags mean together (one input, one output, which flags go with which) is
// checked after parsing, below.
import { availableParallelism, hostname } from 'node:os';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { INDEX_PERIODS } from '../elasticsearch/mapping';
import { absoluteTime } from '../search/translate';
import { UsageError } from '../errors';
import type { OutputChoice } from '../outputs';
import type { DissectOptions } from '../pipeline/dissect-file';

export type Mode =
  | { kind: 'files'; files: string[] }
  | { kind: 'dir'; dir: string }
  | { kind: 'nic'; nic: string }
  | { kind: 'list-interfaces' }
  | QueryMode;

/** --query: search the packet indices with a display filter, instead of reading packets. */
export interface QueryMode {
  kind: 'query';
  filter: string;
  /** Write the matching packets, read back from their captures, as pcapng here. */
  write?: string;
  /** Print the matching documents (dump or NDJSON); left out with --write alone. */
  print?: { format: 'dump' | 'ndjson'; target: string };
  /** @timestamp bounds, ISO 8601 UTC with nanoseconds. */
  since?: string;
  until?: string;
}

/** What the command line asks for: a run with its options, or only the help (already printed) or the version. */
export type CommandLine = Options | { mode: { kind: 'help' } } | { mode: { kind: 'version' } };

export interface LiveFlags {
  snaplen: number;
  promisc: boolean;
  bufferMb: number;
  user: string;
  statsIntervalSeconds: number;
  /** Benchmarks only: packets come from this capture file as fast as the dissecting processes take them. */
  testSource?: string;
}

export interface Options {
  mode: Mode;
  output: OutputChoice;
  live: LiveFlags;
  count: number;
  filter?: string;
  bpf?: string;
  maxBytes: number;
  sessionPackets: number;
  workerMaxRssMb: number;
  /** Dissecting processes at once. */
  workers: number;
  quiet: boolean;
  /** Benchmark only: dissect with a full tree but write nothing. */
  dissectOnly: boolean;
}

// ---- value parsers: each throws commander's InvalidArgumentError with the whole message

function nonEmpty(flag: string) {
  return (value: string): string => {
    if (value.trim() === '') throw new InvalidArgumentError(`--${flag} needs a value`);
    return value;
  };
}

/** A whole number from min to max (or at least min, when max is left out). */
function wholeNumber(flag: string, min: number, max?: number) {
  return (value: string): number => {
    const text = value.trim();
    if (!/^\d+$/.test(text)) throw new InvalidArgumentError(`--${flag} needs a whole number, got "${value}"`);
    const n = Number(text);
    if (n >= min && n <= (max ?? Number.MAX_SAFE_INTEGER)) return n;
    if (max !== undefined) throw new InvalidArgumentError(`--${flag} must be between ${min} and ${max}, got ${text}`);
    throw new InvalidArgumentError(n < min ? `--${flag} must be at least ${min}, got ${text}` : `--${flag} is too large: ${text}`);
  };
}

/** A whole number that may be negative. */
function signedNumber(flag: string) {
  return (value: string): number => {
    if (!/^-?\d{1,15}$/.test(value.trim())) throw new InvalidArgumentError(`--${flag} needs a whole number, got "${value}"`);
    return Number(value);
  };
}

/** One of a few words. */
function oneOf<T extends string>(flag: string, words: readonly T[]) {
  return (value: string): T => {
    if (!words.includes(value as T)) throw new InvalidArgumentError(`--${flag} must be ${words.slice(0, -1).join(', ')} or ${words.at(-1)}, got "${value}"`);
    return value as T;
  };
}

/**
 * The longest index prefix: Elasticsearch's index names are at most 255 bytes,
 * and the longest period espcap appends is a day, "-YYYY-MM-DD".
 */
export const MAX_INDEX_PREFIX = 255 - '-YYYY-MM-DD'.length;

/** The start of an Elasticsearch index name: lower case, no characters Elasticsearch refuses or reads as a pattern. */
function indexPrefix(value: string): string {
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(value))
    throw new InvalidArgumentError(`--index-prefix must be lower-case letters, digits, '.', '_' or '-', starting with a letter or digit, got "${value}"`);
  if (value.length > MAX_INDEX_PREFIX)
    throw new InvalidArgumentError(`--index-prefix may have at most ${MAX_INDEX_PREFIX} characters (index names are at most 255 bytes), got ${value.length}`);
  return value;
}

/** An Elasticsearch time value: 500ms, 30s, 1m, or -1 (never). */
function timeValue(flag: string) {
  return (value: string): string => {
    if (!/^(-1|\d+(ms|s|m|h))$/.test(value)) throw new InvalidArgumentError(`--${flag} needs a time such as 5s, 30s or 1m, got "${value}"`);
    return value;
  };
}

// ---- the flags

const INPUT = 'Input (exactly one):';
const OUTPUT = 'Output (default: packets printed for a person to read):';
const ELASTICSEARCH = 'Elasticsearch (--node):';
const SELECTION = 'Selection:';
const SEARCH = 'Finding packets again (--node):';
const LIVE = 'Live capture (--nic):';
const DOCUMENTS = 'Documents:';
const PARALLEL = 'Parallel ingest:';
const SHARING = 'Several processes or hosts on one archive (--node):';
const MEMORY = 'Memory:';
const GENERAL = 'General:';

function text(flags: string, help: string, group: string, flag: string, fallback?: string): Option {
  const option = new Option(flags, help).argParser(nonEmpty(flag)).helpGroup(group);
  return fallback === undefined ? option : option.default(fallback, fallback);
}

/** A whole-number flag; the help shows its default and its upper bound, from the same numbers the parser checks. */
function number(flags: string, help: string, group: string, flag: string, range: { min: number; max?: number; default?: number }): Option {
  const limit = range.max === undefined ? '' : `at most ${range.max}`;
  const option = new Option(flags, help).argParser(wholeNumber(flag, range.min, range.max)).helpGroup(group);
  if (range.default !== undefined) return option.default(range.default, [String(range.default), limit].filter((part) => part !== '').join(', '));
  return limit ? new Option(flags, `${help} (${limit})`).argParser(wholeNumber(flag, range.min, range.max)).helpGroup(group) : option;
}

function switchOption(flags: string, help: string, group?: string): Option {
  const option = new Option(flags, help);
  return group === undefined ? option : option.helpGroup(group);
}

/** The flags' one definition, for parsing here and for the flag reference (flag-reference.ts). */
export function commandLine(): Command {
  const program = new Command('espcap')
    .usage('(--file FILE... | --dir DIR | --nic IFACE | --list-interfaces | --node URL --query FILTER) [options]')
    .description(
      "Reads packets, dissects them with Wireshark's dissectors and prints them, writes\n" +
        'them as NDJSON documents, or indexes them into Elasticsearch.',
    )
    .addHelpOption(new Option('-h, --help', 'this text').helpGroup(GENERAL))
    .configureHelp({ helpWidth: 100 })
    .addHelpText('after', '\nExit codes: 0 success, 1 a capture or output failed, 2 a wrong command line.')
    .exitOverride()
    .configureOutput({ outputError: () => {} }) // errors become one line of our own (see parseCommandLine)
    .allowExcessArguments(false);
  const options: Option[] = [
    new Option('--file <FILE>', 'a capture file (pcap, pcapng, compressed, any format Wireshark reads); repeat for several files')
      .argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), nonEmpty('file')(value)])
      .helpGroup(INPUT),
    text('--dir <DIR>', 'every capture under DIR, recursively, in sorted order', INPUT, 'dir'),
    text('--nic <IFACE>', 'live capture from a network interface', INPUT, 'nic'),
    switchOption('--list-interfaces', 'list capture interfaces, then exit', INPUT),
    switchOption('--list', 'the same as --list-interfaces').hideHelp(),

    text('-o, --output <FILE>', 'write one JSON document per packet (NDJSON) to FILE, - for stdout', OUTPUT, 'output'),
    text(
      '--node <URL[,URL...]>',
      'index into Elasticsearch (host:port or URL; several nodes of one cluster comma-separated), one index per UTC day (see --index-period): packets-YYYY-MM-DD',
      OUTPUT,
      'node',
    ),

    new Option('--index-period <P>', 'one index per day (packets-2015-07-30), week (ISO: packets-2015-w31), month (packets-2015-07) or year (packets-2015), by the packet\'s UTC time')
      .argParser(oneOf('index-period', INDEX_PERIODS))
      .default('day', 'day')
      .helpGroup(ELASTICSEARCH),
    new Option('--index-prefix <NAME>', 'the start of the index names').argParser(indexPrefix).default('packets', 'packets').helpGroup(ELASTICSEARCH),
    number('--shards <N>', 'primary shards of each index (more only for indices larger than about 50 GB; replicas: one where a second node can hold it)', ELASTICSEARCH, 'shards', {
      min: 1,
      max: 1024,
      default: 1,
    }),
    number('--chunk <N>', 'packets per bulk request', ELASTICSEARCH, 'chunk', { min: 1, max: 100000, default: 1000 }),
    number('--bulk-mb <N>', 'bytes per bulk request at most, in MiB (Elasticsearch refuses larger requests by default)', ELASTICSEARCH, 'bulk-mb', { min: 1, max: 100, default: 8 }),
    number('--bulk-inflight <N>', 'bulk requests in flight at once', ELASTICSEARCH, 'bulk-inflight', { min: 1, max: 64, default: 3 }),
    number('--retry-deadline <S>', 'keep retrying a failing request for S seconds', ELASTICSEARCH, 'retry-deadline', { min: 0, max: 7 * 24 * 3600, default: 300 }),
    new Option('--refresh-interval <T>', 'refresh interval of the indices espcap creates (slower than Elasticsearch\'s 1s: faster bulk ingest; espcap refreshes them itself when it is done)')
      .argParser(timeValue('refresh-interval'))
      .default('30s', '30s')
      .helpGroup(ELASTICSEARCH),
    text('--dead-letter <FILE>', 'where documents Elasticsearch refused go, with the reason', ELASTICSEARCH, 'dead-letter', 'espcap-dead-letter.ndjson'),
    text('--username <USER>', 'basic authentication; the password comes from the environment variable ESPCAP_PASSWORD or from --password-file', ELASTICSEARCH, 'username'),
    text('--password-file <FILE>', 'a file holding the password', ELASTICSEARCH, 'password-file'),
    text('--api-key-file <FILE>', 'a file holding an API key', ELASTICSEARCH, 'api-key-file'),
    text('--api-key <KEY>', 'an API key (on the command line it is visible to other users in ps: prefer the file or the variable)', ELASTICSEARCH, 'api-key').env(
      'ESPCAP_API_KEY',
    ),
    text('--ca-cert <FILE>', "CA certificate(s), PEM, to verify the cluster's TLS certificate", ELASTICSEARCH, 'ca-cert'),
    switchOption('--insecure', 'do not verify TLS certificates (prints a warning)', ELASTICSEARCH),
    text('--host-id <ID>', 'who this process is to other espcap processes indexing the same captures (default: host name:process id)', SHARING, 'host-id'),
    number('--lease <S>', "a capture another process claimed is taken over when its claim is not renewed for S seconds", SHARING, 'lease', {
      min: 2,
      max: 3600,
      default: 60,
    }),
    text('--query <FILTER>', 'search the packet indices with a Wireshark display filter instead of reading packets; prints the packets found (or --output, --write)', SEARCH, 'query'),
    text('--write <FILE>', 'with --query: write the packets found, read back from their captures, as pcapng in time order (- for stdout: | wireshark -k -i -)', SEARCH, 'write'),
    text('--since <TIME>', 'with --query: packets from TIME on ("YYYY-MM-DD HH:MM:SS[.fraction][Z]"; local time unless Z, as in Wireshark filters)', SEARCH, 'since'),
    text('--until <TIME>', 'with --query: packets before TIME', SEARCH, 'until'),
    // Tests and benchmarks only, hidden from --help: claims written with a wall
    // clock this far off, a smaller field budget, live capture from a file.
    new Option('--test-clock-offset <MS>', 'wall clock offset').argParser(signedNumber('test-clock-offset')).default(0).hideHelp(),
    new Option('--test-field-budget <N>', 'layer fields mapped per index at most').argParser(wholeNumber('test-field-budget', 1)).hideHelp(),
    new Option('--test-live-source <FILE>', 'live capture reads this file as fast as the dissecting processes take it').argParser(nonEmpty('test-live-source')).hideHelp(),

    number('--count <N>', 'stop after N packets', SELECTION, 'count', { min: 1 }),
    text('--filter <EXPR>', 'keep only packets matching a Wireshark display filter', SELECTION, 'filter'),
    text('--bpf <EXPR>', 'capture filter (BPF) for live capture', SELECTION, 'bpf'),

    number('--snaplen <N>', 'bytes captured per packet', LIVE, 'snaplen', { min: 64, max: 262144, default: 262144 }),
    switchOption('--no-promisc', 'do not put the interface into promiscuous mode (default: do)', LIVE),
    switchOption('--promisc', 'put the interface into promiscuous mode (the default)').hideHelp(),
    number('--buffer-size <MB>', 'kernel capture buffer in MiB (absorbs bursts)', LIVE, 'buffer-size', { min: 1, max: 4096, default: 32 }),
    text('--user <USER>', 'when started as root: the user (a name from the system\'s user database, or a numeric uid) espcap runs as once the interface is open, before any packet is dissected', LIVE, 'user', 'nobody'),
    number(
      '--stats-interval <S>',
      'every S seconds, capture counters as a JSON line on stderr (captured, dissected, kernel/interface/espcap drops); 0 never',
      LIVE,
      'stats-interval',
      { min: 0, max: 86400, default: 0 },
    ),

    number('--max-bytes <N>', 'leave out byte fields longer than N bytes (0 keeps all)', DOCUMENTS, 'max-bytes', { min: 0, max: 0xffffffff, default: 64 }),

    number(
      '--workers <N>',
      'dissecting processes at once: files go largest first, a file of more than --session-packets packets is cut at its session resets and shared; live capture is spread over them by flow (both directions of a connection to the same one). By default the number of cores (live: less one, for capturing), but 1 when writing to standard output (to keep packet order) and with --count on files',
      PARALLEL,
      'workers',
      { min: 1, max: 256 },
    ),
    switchOption('--no-resume', 'with --node: index every file again, also those a previous run recorded as fully indexed (documents already there count as duplicates)', PARALLEL),

    number('--session-packets <N>', "reset Wireshark's per-capture state every N packets (0 never), like tshark -M", MEMORY, 'session-packets', { min: 0, default: 100000 }),
    number(
      '--worker-max-rss <MB>',
      'replace a dissecting process grown past MB at its next session reset, so its output stays the same (at once past twice MB)',
      MEMORY,
      'worker-max-rss',
      { min: 64, max: 1024 * 1024, default: 400 },
    ),

    switchOption('-q, --quiet', 'no progress display or summary on stderr', GENERAL),
    switchOption('-V, --version', "espcap's version and the libwireshark it uses", GENERAL),
    // Benchmarks only: dissect with a full tree, write nothing (the floor documents are measured against).
    switchOption('--dissect-only', 'dissect, write nothing').hideHelp(),
  ];
  for (const option of options) program.addOption(option);
  return program;
}

/** commander's error, as one line of espcap's: the parsers' own words where they gave them. */
function usageError(err: CommanderError): UsageError {
  const message = err.message.replace(/^error: /, '');
  const invalid = /^option '.*' argument '.*' is invalid\. (.*)$/s.exec(message);
  return new UsageError(invalid ? invalid[1] : `${message.split('\n')[0]} (see --help)`);
}

export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv = process.env): CommandLine {
  const program = commandLine();
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    // --help: commander has printed it.
    if (err instanceof CommanderError && err.code === 'commander.helpDisplayed') return { mode: { kind: 'help' } };
    if (err instanceof CommanderError) throw usageError(err);
    throw err;
  }
  const v = program.opts();
  if (v.version) return { mode: { kind: 'version' } };

  const modes: Mode[] = [];
  if (v.file) modes.push({ kind: 'files', files: v.file });
  if (v.dir !== undefined) modes.push({ kind: 'dir', dir: v.dir });
  if (v.nic !== undefined) modes.push({ kind: 'nic', nic: v.nic });
  if (v.listInterfaces || v.list) modes.push({ kind: 'list-interfaces' });
  if (v.query !== undefined) modes.push(queryMode(program));
  else for (const flag of ['write', 'since', 'until']) if (v[flag] !== undefined) throw new UsageError(`--${flag} goes with --query`);
  if (modes.length === 0) throw new UsageError('no input given: use --file, --dir, --nic, --list-interfaces or --query (see --help)');
  if (modes.length > 1) throw new UsageError('give only one of --file, --dir, --nic, --list-interfaces and --query');
  return settle(program, modes[0], env);
}

/** --query and what goes with it: the cluster to search (--node), what to do with the packets found. */
function queryMode(program: Command): QueryMode {
  const v = program.opts();
  if (v.node === undefined) throw new UsageError('--query searches Elasticsearch: give --node');
  if (v.filter !== undefined) throw new UsageError('--filter selects packets while reading captures; with --query the query is the filter');
  const time = (flag: 'since' | 'until'): string | undefined => {
    if (v[flag] === undefined) return undefined;
    const iso = absoluteTime(v[flag]);
    if (!iso) throw new UsageError(`--${flag} needs a time such as "2015-07-30 05:22:10" or "2015-07-30T05:22:10.5Z", got "${v[flag]}"`);
    return iso;
  };
  if (v.write === '-' && v.output === '-') throw new UsageError('--write - and --output - would both write to standard output: give a file to one of them');
  const print = v.output !== undefined ? { format: 'ndjson' as const, target: v.output } : v.write === undefined ? { format: 'dump' as const, target: '-' } : undefined;
  return { kind: 'query', filter: v.query, write: v.write, print, since: time('since'), until: time('until') };
}

/** The flags together: which go with which, the output, and the defaults that depend on other flags. */
function settle(program: Command, mode: Mode, env: NodeJS.ProcessEnv): Options {
  const v = program.opts();
  const given = (name: string) => program.getOptionValueSource(name) === 'cli';
  if (v.output !== undefined && v.node !== undefined && mode.kind !== 'query') throw new UsageError('give either --output or --node, not both');
  const isLive = mode.kind === 'nic';
  if (v.bpf !== undefined && !isLive) throw new UsageError('--bpf filters live capture (--nic); to select packets of capture files use --filter');
  if (given('apiKey') && given('apiKeyFile')) throw new UsageError('give either --api-key or --api-key-file, not both');
  if ((given('apiKey') || given('apiKeyFile')) && given('username')) throw new UsageError('give either an API key or --username, not both');
  if (!v.resume && v.node === undefined) throw new UsageError('--no-resume applies to indexing (--node) only');
  for (const [name, flag] of [['hostId', 'host-id'], ['lease', 'lease'], ['indexPeriod', 'index-period'], ['indexPrefix', 'index-prefix'], ['shards', 'shards']])
    if (given(name) && v.node === undefined) throw new UsageError(`--${flag} applies to indexing (--node) only`);
  if (!isLive)
    for (const [name, flag] of [['snaplen', 'snaplen'], ['promisc', 'promisc'], ['bufferSize', 'buffer-size'], ['user', 'user'], ['statsInterval', 'stats-interval']])
      if (given(name)) throw new UsageError(`--${flag === 'promisc' && !v.promisc ? 'no-promisc' : flag} applies to live capture (--nic) only`);
  if (v.testLiveSource !== undefined && !isLive) throw new UsageError('--test-live-source stands in for the interface of --nic');

  let output: OutputChoice;
  if (v.node !== undefined) {
    output = {
      format: 'elasticsearch',
      node: v.node,
      chunk: v.chunk,
      bulkMb: v.bulkMb,
      bulkInflight: v.bulkInflight,
      retryDeadlineSeconds: v.retryDeadline,
      refreshInterval: v.refreshInterval,
      deadLetter: v.deadLetter,
      username: v.username,
      password: env.ESPCAP_PASSWORD,
      passwordFile: v.passwordFile,
      apiKey: v.apiKey,
      apiKeyFile: v.apiKeyFile,
      caCert: v.caCert,
      insecure: v.insecure ?? false,
      resume: v.resume,
      // --count takes the first packets in file order; --no-resume reads every file, wherever else it is read.
      share: v.resume && !v.count,
      // The form elasticsearch/claims.ts recognises: a claim of a process of this host that is gone is taken over at once.
      hostId: v.hostId ?? `${hostname()}:${process.pid}`,
      leaseSeconds: v.lease,
      indexPrefix: v.indexPrefix,
      indexPeriod: v.indexPeriod,
      shards: v.shards,
      clockOffsetMs: v.testClockOffset,
      fieldBudget: v.testFieldBudget,
    };
  } else output = { format: v.output === undefined ? 'dump' : 'ndjson', target: v.output ?? '-' };

  const count: number = v.count ?? 0;
  const toStdout = output.format !== 'elasticsearch' && output.target === '-';
  // Live: one core captures and hands the packets over.
  const defaultWorkers = toStdout || (count && !isLive) ? 1 : isLive ? Math.max(1, availableParallelism() - 1) : availableParallelism();
  const workers: number = v.workers ?? defaultWorkers;
  if (workers > 1 && toStdout)
    throw new UsageError('--workers above 1 needs --output FILE or --node: on standard output the packets of several processes would interleave out of order');
  // Live capture counts the packets where it captures them, before they are spread.
  if (workers > 1 && count && !isLive) throw new UsageError('--count takes the first packets in file order, with one worker: leave out --workers');
  return {
    mode,
    output,
    live: {
      snaplen: v.snaplen,
      promisc: v.promisc !== false,
      bufferMb: v.bufferSize,
      user: v.user,
      statsIntervalSeconds: v.statsInterval,
      testSource: v.testLiveSource,
    },
    count,
    filter: v.filter,
    bpf: v.bpf,
    maxBytes: v.maxBytes,
    sessionPackets: v.sessionPackets,
    workerMaxRssMb: v.workerMaxRss,
    workers,
    quiet: v.quiet ?? false,
    dissectOnly: v.dissectOnly ?? false,
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
