// espcap --node URL --query FILTER: the packets a Wireshark display filter
// finds in the packet indices, printed (as a dump or NDJSON) and/or written
// back as pcapng from their original captures (--write).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ElasticsearchChoice } from '../outputs/elasticsearch';
import type { QueryMode } from './args';
import { EspcapError, UsageError } from '../errors';
import { documentContract, fieldRegistry, initEngine, loadAddon } from '../engine/engine';
import { clusterOptions, checkCluster, createClient, describeError } from '../elasticsearch/cluster';
import { indexPattern } from '../elasticsearch/mapping';
import { parseDisplayFilter, UntranslatableFilter } from '../search/display-filter';
import { EITHER_DIRECTION, EsQuery, FieldInfo, translateFilter } from '../search/translate';
import { PacketHit, searchPackets } from '../search/search';
import { CaptureFrames, FrameRequest } from '../search/frames';
import { dumpPacket, Value } from '../outputs/dump';
import { PcapngWriter } from '../outputs/pcapng';
import type { ValueKind } from '../../native/addon';

function warn(message: string): void {
  process.stderr.write(`espcap: ${message}\n`);
}

/** The display filter checked by epan, then translated; a UsageError (exit 2) names what is wrong or untranslatable. */
export async function translateDisplayFilter(filter: string): Promise<EsQuery> {
  await initEngine();
  const problem = await loadAddon().checkFilter(filter);
  if (problem) throw new UsageError(`--query: invalid display filter "${filter}": ${problem}`);
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
    if (f.protocol) return { paths: [`layers.${f.layer}`], kind: 'present', protocol: { abbrev } };
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

export async function runQuery(mode: QueryMode, connection: ElasticsearchChoice, count: number, quiet: boolean): Promise<number> {
  const filters: EsQuery[] = [await translateDisplayFilter(mode.filter)];
  if (mode.since || mode.until)
    filters.push({ range: { '@timestamp': { ...(mode.since && { gte: mode.since }), ...(mode.until && { lt: mode.until }), format: 'strict_date_optional_time_nanos' } } });
  const query = filters.length === 1 ? filters[0] : { bool: { filter: filters } };

  const cluster = clusterOptions(connection);
  const client = createClient(cluster);
  const indices = indexPattern({ prefix: connection.indexPrefix });
  const print = mode.print && openPrint(mode.print);
  let writer: PcapngWriter | undefined;
  let target: string | undefined;
  if (mode.write === '-') writer = PcapngWriter.toStream(1, 'espcap');
  else if (mode.write) {
    target = path.resolve(mode.write);
    try {
      if (fs.statSync(target, { throwIfNoEntry: false })?.isDirectory()) throw new Error('it is a directory');
      writer = PcapngWriter.create(target, 'espcap');
      target = fs.existsSync(target) ? fs.realpathSync(target) : target;
    } catch (err) {
      throw new EspcapError(`cannot write ${mode.write}: ${(err as Error).message}`);
    }
  }
  // Ctrl-C: no half-written file left behind.
  const interrupted = () => {
    writer?.discard();
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  // Writing over a capture the packets are read from would destroy it.
  const sameAsTarget = new Map<string, boolean>();
  const isTarget = (file: string) => {
    let same = sameAsTarget.get(file);
    if (same === undefined) sameAsTarget.set(file, (same = fs.existsSync(file) && fs.realpathSync(file) === target));
    return same;
  };
  const frames = new CaptureFrames();
  let found = 0;
  let notWritten = 0;
  const reasons = new Map<string, number>();
  try {
    await checkCluster(client, cluster.nodes);
    try {
      // Writing only: where each packet is, not the whole document.
      const fields = print ? undefined : ['file_name', 'capture_id', 'frame_number', 'capture', 'interface_name'];
      for await (const page of searchPackets(client, indices, query, count, fields)) {
        found += page.length;
        if (print) {
          try {
            await print.write(page);
          } catch (err) {
            // A reader that has seen enough (| head) ends the search, as it ends a file run.
            if ((err as NodeJS.ErrnoException).code === 'EPIPE') break;
            throw new EspcapError(`cannot write ${print.target}: ${(err as Error).message}`);
          }
        }
        if (writer) {
          const reused = page.find(({ source }) => typeof source.file_name === 'string' && isTarget(source.file_name));
          if (reused) throw new EspcapError(`--write ${mode.write}: that is a capture the packets found are read from; write them to another file`);
          try {
            notWritten += writePage(page, frames, writer, reasons);
          } catch (err) {
            throw new EspcapError(`cannot write ${mode.write}: ${(err as Error).message}`);
          }
        }
      }
    } catch (err) {
      if (err instanceof EspcapError) throw err;
      throw new EspcapError(`Elasticsearch: cannot search ${indices}: ${describeError(err)}`);
    }
    writer?.close();
  } catch (err) {
    writer?.discard();
    throw err;
  } finally {
    process.removeListener('SIGINT', interrupted);
    frames.close();
    await print?.close();
    await client.close();
  }
  for (const [reason, n] of reasons) warn(`${reason}: ${n} packet${n === 1 ? '' : 's'} not written`);
  if (!quiet) {
    let summary = `${found} packet${found === 1 ? '' : 's'} found in ${indices}${count && found === count ? ` (stopped at --count ${count})` : ''}`;
    if (writer) summary += `; ${writer.written} written to ${mode.write === '-' ? 'standard output' : mode.write}`;
    warn(summary);
  }
  return notWritten ? 1 : 0;
}

/** The page's packets read back from their captures into the pcapng file, in the page's (time) order; returns how many could not be. */
function writePage(page: PacketHit[], frames: CaptureFrames, writer: PcapngWriter, reasons: Map<string, number>): number {
  const because = (reason: string) => reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  const requests: (FrameRequest | undefined)[] = page.map(({ source }) =>
    typeof source.file_name === 'string' && typeof source.capture_id === 'string' && typeof source.frame_number === 'number'
      ? { file: source.file_name, captureId: source.capture_id, frame: source.frame_number }
      : undefined,
  );
  const wanted = requests.filter((r): r is FrameRequest => r !== undefined);
  const indexOf = new Map(wanted.map((r, i) => [r, i]));
  const raw = frames.read(wanted, (request, why) => because(`${request.file}: ${why}`));
  let lost = 0;
  for (let i = 0; i < page.length; i++) {
    const request = requests[i];
    if (!request) {
      because(`live capture on ${String(page[i].source.interface_name ?? 'an interface')}: no capture file to read the packets from`);
      lost++;
      continue;
    }
    const frame = raw.get(indexOf.get(request)!);
    if (!frame) {
      lost++;
      continue;
    }
    if (frame.linkType < 0) {
      because(`${request.file}: ${frame.note}`);
      lost++;
      continue;
    }
    writer.add(frame);
  }
  writer.flush();
  return lost;
}

/** The documents found, printed for a person or as NDJSON, to a file or standard output. */
function openPrint(print: NonNullable<QueryMode['print']>): { target: string; write(page: PacketHit[]): Promise<void>; close(): Promise<void> } {
  let fd: number;
  try {
    fd = print.target === '-' ? 1 : fs.openSync(print.target, 'w');
  } catch (err) {
    throw new EspcapError(`cannot write ${print.target}: ${(err as Error).message}`);
  }
  const out = print.target === '-' ? process.stdout : fs.createWriteStream('', { fd });
  // An error (EPIPE: the reader went away) is kept and given to the next write, never thrown unheard.
  let failed: Error | undefined;
  out.on('error', (err) => (failed = err));
  const write = (text: string) =>
    new Promise<void>((resolve, reject) => {
      if (failed) reject(failed);
      else if (out.write(text)) resolve();
      else out.once('drain', resolve).once('error', reject);
    });
  return {
    target: print.target,
    async write(page) {
      let text = '';
      for (const { source } of page) {
        if (print.format === 'ndjson') text += `${JSON.stringify(source)}\n`;
        else {
          const file = typeof source.file_name === 'string' ? path.basename(source.file_name) : String(source.interface_name ?? source.capture);
          const head = { frame: Number(source.frame_number), timestamp: String(source['@timestamp']), protocol: String(source.protocol), length: Number(source.length), source: file };
          text += dumpPacket(head, (source.layers ?? {}) as Record<string, Value>);
        }
      }
      await write(text);
    },
    async close() {
      if (out !== process.stdout) await new Promise<void>((resolve) => (out as fs.WriteStream).end(resolve));
    },
  };
}
