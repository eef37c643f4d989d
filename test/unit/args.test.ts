// The command-line rules of src/cli/args.ts, checked on parseCommandLine()
// directly: the modes, which flags go together, the defaults (some depend on
// other flags), each value check and each refusal's one line. test/cli.test.ts
// runs espcap for the exit codes and for what reaches the terminal.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { availableParallelism, hostname } from 'node:os';
import { CommandLine, dissectOptions, MAX_INDEX_PREFIX, Options, parseCommandLine } from '../../src/cli/args';
import { UsageError } from '../../src/errors';

// The environment must not choose for the tests: commander reads ESPCAP_API_KEY from process.env itself.
delete process.env.ESPCAP_API_KEY;

/** A run's options (not --help or --version). */
function parse(args: string[], env: NodeJS.ProcessEnv = {}): Options {
  const line: CommandLine = parseCommandLine(args, env);
  assert.ok('output' in line, `${args.join(' ')}: ${JSON.stringify(line)}`);
  return line;
}

/** The command line is refused with exactly this line (exit 2). */
function refused(args: string[], message: string, env: NodeJS.ProcessEnv = {}): void {
  assert.throws(
    () => parseCommandLine(args, env),
    (err: unknown) => {
      assert.ok(err instanceof UsageError, `${args.join(' ')}: ${String(err)}`);
      assert.equal(err.message, message, args.join(' '));
      return true;
    },
  );
}

const CORES = availableParallelism();

test('the modes: several --file in order, --dir, --nic, --list-interfaces (--list), --query', () => {
  assert.deepEqual(parse(['--file', 'a.pcap', '--file=b.pcap']).mode, { kind: 'files', files: ['a.pcap', 'b.pcap'] });
  assert.deepEqual(parse(['--dir', 'captures']).mode, { kind: 'dir', dir: 'captures' });
  assert.deepEqual(parse(['--nic', 'eth0']).mode, { kind: 'nic', nic: 'eth0' });
  assert.deepEqual(parse(['--list-interfaces']).mode, { kind: 'list-interfaces' });
  assert.deepEqual(parse(['--list']).mode, { kind: 'list-interfaces' });
  assert.deepEqual(parse(['--node', 'localhost:9200', '--query', 'dns']).mode, { kind: 'query', filter: 'dns', write: undefined, print: { format: 'dump', target: '-' }, since: undefined, until: undefined });
});

test('exactly one input', () => {
  refused([], 'no input given: use --file, --dir, --nic, --list-interfaces or --query (see --help)');
  refused(['--quiet'], 'no input given: use --file, --dir, --nic, --list-interfaces or --query (see --help)');
  const two = 'give only one of --file, --dir, --nic, --list-interfaces and --query';
  refused(['--file', 'a', '--dir', 'b'], two);
  refused(['--nic', 'eth0', '--list-interfaces'], two);
  refused(['--file', 'a', '--node', 'localhost:9200', '--query', 'dns'], two);
});

test('--help and --version: no run, whatever else is given', () => {
  const written: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => written.push(chunk) > 0) as typeof process.stdout.write;
  let help: CommandLine;
  try {
    help = parseCommandLine(['--file', 'a', '--help'], {});
  } finally {
    process.stdout.write = write;
  }
  assert.deepEqual(help, { mode: { kind: 'help' } });
  assert.match(written.join(''), /^Usage: espcap \(--file FILE\.\.\. \| --dir DIR \| --nic IFACE \| --list-interfaces \| --node URL --query FILTER\) \[options\]\n/);
  for (const flags of [['--version'], ['-V'], ['--file', 'a', '--dir', 'b', '--version']]) assert.deepEqual(parseCommandLine(flags, {}), { mode: { kind: 'version' } }, flags.join(' '));
});

test('defaults of a file run printed for a person: one worker, every documented default', () => {
  const o = parse(['--file', 'a.pcap']);
  assert.deepEqual(o, {
    mode: { kind: 'files', files: ['a.pcap'] },
    output: { format: 'dump', target: '-' },
    live: { snaplen: 262144, promisc: true, bufferMb: 32, user: 'nobody', statsIntervalSeconds: 0, testSource: undefined },
    count: 0,
    filter: undefined,
    bpf: undefined,
    maxBytes: 64,
    sessionPackets: 100000,
    workerMaxRssMb: 400,
    workers: 1,
    quiet: false,
    dissectOnly: false,
  });
  assert.deepEqual(dissectOptions(o), { filter: undefined, maxBytes: 64, sessionPackets: 100000, maxRssBytes: 400 * 1024 * 1024, dissectOnly: false });
});

test('--output: NDJSON to a file or standard output', () => {
  assert.deepEqual(parse(['--file', 'a', '--output', 'out.ndjson']).output, { format: 'ndjson', target: 'out.ndjson' });
  assert.deepEqual(parse(['--file', 'a', '-o', '-']).output, { format: 'ndjson', target: '-' });
  refused(['--file', 'a', '--output', ''], '--output needs a value');
});

test('--node: the Elasticsearch output with its defaults', () => {
  const o = parse(['--file', 'a', '--node', 'localhost:9200'], { ESPCAP_PASSWORD: 'secret' });
  assert.deepEqual(o.output, {
    format: 'elasticsearch',
    node: 'localhost:9200',
    chunk: 1000,
    bulkMb: 8,
    bulkInflight: 3,
    retryDeadlineSeconds: 300,
    refreshInterval: '30s',
    deadLetter: 'espcap-dead-letter.ndjson',
    username: undefined,
    password: 'secret',
    passwordFile: undefined,
    apiKey: undefined,
    apiKeyFile: undefined,
    caCert: undefined,
    insecure: false,
    resume: true,
    share: true,
    hostId: `${hostname()}:${process.pid}`,
    leaseSeconds: 60,
    indexPrefix: 'packets',
    indexPeriod: 'day',
    shards: 1,
    clockOffsetMs: 0,
    fieldBudget: undefined,
  });
  assert.equal(o.workers, CORES);
});

test('--node: every flag of the output given', () => {
  const o = parse([
    ...['--file', 'a', '--node', 'https://es1:9200,https://es2:9200', '--chunk', '500', '--bulk-mb', '100', '--bulk-inflight', '64', '--retry-deadline', '0'],
    ...['--refresh-interval', '-1', '--dead-letter', 'dl.ndjson', '--username', 'elastic', '--password-file', 'pw', '--ca-cert', 'ca.pem', '--insecure'],
    ...['--host-id', 'h1', '--lease', '2', '--index-prefix', 'pk.t_1-x', '--index-period', 'week', '--shards', '1024', '--test-clock-offset', '-5000', '--test-field-budget', '10'],
  ]);
  assert.deepEqual(o.output, {
    format: 'elasticsearch',
    node: 'https://es1:9200,https://es2:9200',
    chunk: 500,
    bulkMb: 100,
    bulkInflight: 64,
    retryDeadlineSeconds: 0,
    refreshInterval: '-1',
    deadLetter: 'dl.ndjson',
    username: 'elastic',
    password: undefined,
    passwordFile: 'pw',
    apiKey: undefined,
    apiKeyFile: undefined,
    caCert: 'ca.pem',
    insecure: true,
    resume: true,
    share: true,
    hostId: 'h1',
    leaseSeconds: 2,
    indexPrefix: 'pk.t_1-x',
    indexPeriod: 'week',
    shards: 1024,
    clockOffsetMs: -5000,
    fieldBudget: 10,
  });
  for (const t of ['500ms', '5s', '1m', '2h']) assert.equal((parse(['--file', 'a', '--node', 'n', '--refresh-interval', t]).output as { refreshInterval: string }).refreshInterval, t);
});

test('the file claims are shared unless --count or --no-resume', () => {
  const share = (args: string[]) => (parse(['--file', 'a', '--node', 'n', ...args]).output as { share: boolean; resume: boolean });
  assert.deepEqual([share([]).share, share([]).resume], [true, true]);
  assert.deepEqual([share(['--no-resume']).share, share(['--no-resume']).resume], [false, false]);
  assert.equal(share(['--count', '10']).share, false);
});

test('--output and --node: one output', () => {
  refused(['--file', 'a', '--output', 'x', '--node', 'n'], 'give either --output or --node, not both');
  refused(['--nic', 'eth0', '-o', 'x', '--node', 'n'], 'give either --output or --node, not both');
});

test('flags of indexing need --node', () => {
  refused(['--file', 'a', '--no-resume'], '--no-resume applies to indexing (--node) only');
  for (const [flag, value] of [['--host-id', 'h'], ['--lease', '30'], ['--index-period', 'month'], ['--index-prefix', 'x'], ['--shards', '2']])
    refused(['--file', 'a', flag, value], `${flag} applies to indexing (--node) only`);
  // The defaults alone are not "given".
  assert.equal(parse(['--file', 'a']).output.format, 'dump');
});

test('credentials: an API key (flag, file or ESPCAP_API_KEY) or a user, one way each', () => {
  refused(['--file', 'a', '--node', 'n', '--api-key', 'k', '--api-key-file', 'f'], 'give either --api-key or --api-key-file, not both');
  refused(['--file', 'a', '--node', 'n', '--api-key', 'k', '--username', 'u'], 'give either an API key or --username, not both');
  refused(['--file', 'a', '--node', 'n', '--api-key-file', 'f', '--username', 'u'], 'give either an API key or --username, not both');
  assert.equal((parse(['--file', 'a', '--node', 'n', '--api-key', 'k']).output as { apiKey: string }).apiKey, 'k');
  // ESPCAP_API_KEY is the default of --api-key: it conflicts with no flag.
  process.env.ESPCAP_API_KEY = 'from-env';
  try {
    assert.equal((parse(['--file', 'a', '--node', 'n']).output as { apiKey: string }).apiKey, 'from-env');
    const withFile = parse(['--file', 'a', '--node', 'n', '--api-key-file', 'f']).output as { apiKey: string; apiKeyFile: string };
    assert.deepEqual([withFile.apiKey, withFile.apiKeyFile], ['from-env', 'f']);
    assert.equal((parse(['--file', 'a', '--node', 'n', '--username', 'u'], { ESPCAP_PASSWORD: 'p' }).output as { username: string }).username, 'u');
  } finally {
    delete process.env.ESPCAP_API_KEY;
  }
});

test('flags of live capture need --nic; --bpf too', () => {
  for (const [flag, value] of [['--snaplen', '100'], ['--buffer-size', '8'], ['--user', 'me'], ['--stats-interval', '5']])
    refused(['--file', 'a', flag, value], `${flag} applies to live capture (--nic) only`);
  refused(['--dir', 'd', '--no-promisc'], '--no-promisc applies to live capture (--nic) only');
  refused(['--dir', 'd', '--promisc'], '--promisc applies to live capture (--nic) only');
  refused(['--file', 'a', '--bpf', 'port 80'], '--bpf filters live capture (--nic); to select packets of capture files use --filter');
  refused(['--file', 'a', '--test-live-source', 'x.pcap'], '--test-live-source stands in for the interface of --nic');
  const o = parse(['--nic', 'eth0', '--snaplen', '64', '--no-promisc', '--buffer-size', '4096', '--user', 'me', '--stats-interval', '86400', '--bpf', 'port 80', '--test-live-source', 'x.pcap']);
  assert.deepEqual(o.live, { snaplen: 64, promisc: false, bufferMb: 4096, user: 'me', statsIntervalSeconds: 86400, testSource: 'x.pcap' });
  assert.equal(o.bpf, 'port 80');
  assert.equal(parse(['--nic', 'eth0', '--promisc']).live.promisc, true);
});

test('--workers: its default depends on the output, the input and --count', () => {
  const workers = (...args: string[]) => parse(args).workers;
  assert.equal(workers('--file', 'a'), 1, 'packets printed: in order');
  assert.equal(workers('--file', 'a', '-o', '-'), 1, 'NDJSON on standard output: in order');
  assert.equal(workers('--file', 'a', '-o', 'x'), CORES);
  assert.equal(workers('--dir', 'd', '--node', 'n'), CORES);
  assert.equal(workers('--file', 'a', '-o', 'x', '--count', '5'), 1, '--count takes the first packets in file order');
  assert.equal(workers('--nic', 'eth0', '-o', 'x'), Math.max(1, CORES - 1), 'live: one core captures');
  assert.equal(workers('--nic', 'eth0', '-o', 'x', '--count', '5'), Math.max(1, CORES - 1), 'live counts where it captures');
  assert.equal(workers('--nic', 'eth0'), 1);
  assert.equal(workers('--file', 'a', '-o', 'x', '--workers', '256'), 256);
  assert.equal(workers('--file', 'a', '--workers', '1'), 1);
  assert.equal(workers('--nic', 'eth0', '-o', 'x', '--count', '5', '--workers', '3'), 3);
});

test('--workers and --count: the refusals', () => {
  const interleave = '--workers above 1 needs --output FILE or --node: on standard output the packets of several processes would interleave out of order';
  refused(['--file', 'a', '--workers', '2'], interleave);
  refused(['--nic', 'eth0', '-o', '-', '--workers', '2'], interleave);
  refused(['--file', 'a', '-o', 'x', '--workers', '2', '--count', '5'], '--count takes the first packets in file order, with one worker: leave out --workers');
  refused(['--file', 'a', '--workers', '0'], '--workers must be between 1 and 256, got 0');
  refused(['--file', 'a', '--workers', '257'], '--workers must be between 1 and 256, got 257');
  refused(['--file', 'a', '--workers', 'many'], '--workers needs a whole number, got "many"');
  assert.equal(parse(['--file', 'a', '--count', ' 7 ']).count, 7);
  assert.equal(parse(['--file', 'a', '--count', String(Number.MAX_SAFE_INTEGER)]).count, Number.MAX_SAFE_INTEGER);
  refused(['--file', 'a', '--count', '0'], '--count must be at least 1, got 0');
  refused(['--file', 'a', '--count', '-5'], '--count needs a whole number, got "-5"');
  refused(['--file', 'a', '--count', '1.5'], '--count needs a whole number, got "1.5"');
  refused(['--file', 'a', '--count', '9007199254740992'], '--count is too large: 9007199254740992');
});

test('--index-prefix: an index name start, at most MAX_INDEX_PREFIX characters', () => {
  assert.equal(MAX_INDEX_PREFIX, 244);
  assert.equal(MAX_INDEX_PREFIX + '-2015-07-30'.length, 255, 'the longest index name Elasticsearch takes');
  const prefix = (p: string) => (parse(['--file', 'a', '--node', 'n', '--index-prefix', p]).output as { indexPrefix: string }).indexPrefix;
  assert.equal(prefix('p'.repeat(244)), 'p'.repeat(244));
  assert.equal(prefix('0.a_b-c'), '0.a_b-c');
  refused(['--file', 'a', '--node', 'n', '--index-prefix', 'p'.repeat(245)], '--index-prefix may have at most 244 characters (index names are at most 255 bytes), got 245');
  for (const bad of ['Packets', '-x', '_x', '.x', 'a*', 'a b', 'a,b', 'ü'])
    refused(['--file', 'a', '--node', 'n', '--index-prefix', bad], `--index-prefix must be lower-case letters, digits, '.', '_' or '-', starting with a letter or digit, got "${bad}"`);
});

test('other values: ranges, words, times, non-empty text', () => {
  const cases: [string[], string][] = [
    [['--chunk', '100001'], '--chunk must be between 1 and 100000, got 100001'],
    [['--chunk', '99999999999999999999'], '--chunk must be between 1 and 100000, got 99999999999999999999'],
    [['--chunk=-1'], '--chunk needs a whole number, got "-1"'],
    [['--bulk-mb', '0'], '--bulk-mb must be between 1 and 100, got 0'],
    [['--bulk-inflight', '65'], '--bulk-inflight must be between 1 and 64, got 65'],
    [['--retry-deadline', '604801'], '--retry-deadline must be between 0 and 604800, got 604801'],
    [['--lease', '1'], '--lease must be between 2 and 3600, got 1'],
    [['--shards', '0'], '--shards must be between 1 and 1024, got 0'],
    [['--index-period', 'hour'], '--index-period must be day, week, month or year, got "hour"'],
    [['--refresh-interval', 'soon'], '--refresh-interval needs a time such as 5s, 30s or 1m, got "soon"'],
    [['--refresh-interval', '1d'], '--refresh-interval needs a time such as 5s, 30s or 1m, got "1d"'],
    [['--dead-letter', ''], '--dead-letter needs a value'],
    [['--node', ' '], '--node needs a value'],
    [['--test-clock-offset', '1.5'], '--test-clock-offset needs a whole number, got "1.5"'],
    [['--test-field-budget', '0'], '--test-field-budget must be at least 1, got 0'],
  ];
  for (const [flags, message] of cases) refused(['--file', 'a', '--node', 'n', ...flags], message);
  const fileCases: [string[], string][] = [
    [['--max-bytes', '4294967296'], '--max-bytes must be between 0 and 4294967295, got 4294967296'],
    [['--worker-max-rss', '63'], '--worker-max-rss must be between 64 and 1048576, got 63'],
    [['--session-packets', '-1'], '--session-packets needs a whole number, got "-1"'],
    [['--filter', ''], '--filter needs a value'],
    [['--filter', '  '], '--filter needs a value'],
  ];
  for (const [flags, message] of fileCases) refused(['--file', 'a', ...flags], message);
  refused(['--file', ''], '--file needs a value');
  refused(['--dir', ''], '--dir needs a value');
  refused(['--nic', 'eth0', '--snaplen', '63'], '--snaplen must be between 64 and 262144, got 63');
  const o = parse(['--file', 'a', '--max-bytes', '0', '--session-packets', '0', '--worker-max-rss', '64', '--filter', 'dns', '-q', '--dissect-only']);
  assert.deepEqual(dissectOptions(o), { filter: 'dns', maxBytes: 0, sessionPackets: 0, maxRssBytes: 64 * 1024 * 1024, dissectOnly: true });
  assert.equal(o.quiet, true);
});

test("commander's own errors, as one line pointing to --help", () => {
  refused(['--file', 'a', '--bogus'], "unknown option '--bogus' (see --help)");
  refused(['--file'], "option '--file <FILE>' argument missing (see --help)");
  refused(['--file', 'a', 'b.pcap'], 'too many arguments. Expected 0 arguments but got 1. (see --help)');
});

test('--query: the cluster to search and what to do with the packets found', () => {
  const query = (...args: string[]) => parse(['--node', 'n', '--query', 'tcp', ...args]).mode;
  assert.deepEqual(query('--output', 'found.ndjson'), { kind: 'query', filter: 'tcp', write: undefined, print: { format: 'ndjson', target: 'found.ndjson' }, since: undefined, until: undefined });
  assert.deepEqual(query('--write', 'found.pcapng'), { kind: 'query', filter: 'tcp', write: 'found.pcapng', print: undefined, since: undefined, until: undefined });
  assert.deepEqual(query('--write', '-', '--output', 'x'), { kind: 'query', filter: 'tcp', write: '-', print: { format: 'ndjson', target: 'x' }, since: undefined, until: undefined });
  // --since and --until: as a display filter reads a time (local unless Z), to the nanosecond, in UTC.
  const { since, until } = query('--since', '2015-07-30 05:22:10.5Z', '--until', 'Jul 30, 2015 06:00:00 UTC') as { since: string; until: string };
  assert.deepEqual([since, until], ['2015-07-30T05:22:10.500000000Z', '2015-07-30T06:00:00.000000000Z']);
  const local = query('--since', '2015-07-30 05:22:10') as { since: string };
  assert.equal(local.since, `${new Date(2015, 6, 30, 5, 22, 10).toISOString().slice(0, 19)}.000000000Z`);
  // The output flag goes with the query's cluster: not "--output or --node".
  assert.equal(parse(['--node', 'n', '--query', 'tcp', '-o', 'x']).output.format, 'elasticsearch');

  refused(['--query', 'dns'], '--query searches Elasticsearch: give --node');
  refused(['--node', 'n', '--query', 'dns', '--filter', 'tcp'], '--filter selects packets while reading captures; with --query the query is the filter');
  refused(['--node', 'n', '--query', 'dns', '--write', '-', '--output', '-'], '--write - and --output - would both write to standard output: give a file to one of them');
  refused(['--node', 'n', '--query', 'dns', '--since', 'yesterday'], '--since needs a time such as "2015-07-30 05:22:10" or "2015-07-30T05:22:10.5Z", got "yesterday"');
  refused(['--node', 'n', '--query', 'dns', '--until', '2015-07-30'], '--until needs a time such as "2015-07-30 05:22:10" or "2015-07-30T05:22:10.5Z", got "2015-07-30"');
  refused(['--node', 'n', '--query', ''], '--query needs a value');
  for (const flag of ['--write', '--since', '--until']) refused(['--file', 'a', flag, 'x'], `${flag} goes with --query`);
});
