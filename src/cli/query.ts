// espcap --node URL --query FILTER: the packets a Wireshark display filter
// finds in the packet indices, printed (as a dump or NDJSON) and/or written
// back as pcapng from their original captures (--write).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ElasticsearchChoice } from '../outputs/elasticsearch';
import type { QueryMode } from './args';
import { EspcapError, UsageError } from '../errors';
import { checkDisplayFilter, documentContract, fieldRegistry, initEngine } from '../engine/engine';
import { clusterOptions, checkCluster, createClient, describeError } from '../elasticsearch/cluster';
import { indexPattern } from '../elasticsearch/mapping';
import { parseDisplayFilter, UntranslatableFilter } from '../search/display-filter';
import { EITHER_DIRECTION, EsQuery, FieldInfo, translateFilter } from '../search/translate';
import { PacketDoc, searchPackets } from '../search/search';
import { CaptureFrames, FrameRequest } from '../search/frames';
import { dumpPacket, Value } from '../outputs/dump';
import { PcapngWriter } from '../outputs/pcapng';
import { OutputClosedError } from '../sink';
import { TextOutput } from '../outputs/text-output';
import type { ValueKind } from '../../native/addon';

function warn(message: string): void {
  process.stderr.write(`espcap: ${message}\n`);
}

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

export async function runQuery(mode: QueryMode, connection: ElasticsearchChoice, count: number, quiet: boolean): Promise<number> {
  const filters: EsQuery[] = [await translateDisplayFilter(mode.filter)];
  if (mode.since || mode.until)
    filters.push({ range: { '@timestamp': { ...(mode.since && { gte: mode.since }), ...(mode.until && { lt: mode.until }), format: 'strict_date_optional_time_nanos' } } });
  const query = filters.length === 1 ? filters[0] : { bool: { filter: filters } };

  const cluster = clusterOptions(connection);
  const client = createClient(cluster);
  const indices = indexPattern({ prefix: connection.indexPrefix });
  const print = mode.print && { format: mode.print.format, out: TextOutput.open(mode.print.target) };
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
      const fields = print ? undefined : ['file_name', 'capture_id', 'frame_number', 'interface_name'];
      for await (const page of searchPackets(client, indices, query, count, fields)) {
        found += page.length;
        if (print) {
          try {
            await print.out.write(printed(page, print.format));
          } catch (err) {
            // A reader that has seen enough (| head) ends the search, as it ends a file run.
            if (err instanceof OutputClosedError) break;
            throw err;
          }
        }
        if (writer) {
          const reused = page.find((doc) => typeof doc.file_name === 'string' && isTarget(doc.file_name));
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
    await print?.out.close().catch((err) => {
      if (!(err instanceof OutputClosedError)) throw err;
    });
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
function writePage(page: PacketDoc[], frames: CaptureFrames, writer: PcapngWriter, reasons: Map<string, number>): number {
  const because = (reason: string) => reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  const requests = page.map((doc): FrameRequest | undefined =>
    typeof doc.file_name === 'string' && typeof doc.capture_id === 'string' && typeof doc.frame_number === 'number'
      ? { file: doc.file_name, captureId: doc.capture_id, frame: doc.frame_number }
      : undefined,
  );
  const raw = frames.read(
    requests.filter((r): r is FrameRequest => r !== undefined),
    (request, why) => because(`${request.file}: ${why}`),
  );
  let lost = 0;
  for (const [i, request] of requests.entries()) {
    const frame = request && raw.get(request);
    if (!request) because(`live capture on ${String(page[i].interface_name ?? 'an interface')}: no capture file to read the packets from`);
    else if (frame && frame.linkType < 0) because(`${request.file}: ${frame.note}`);
    if (frame && frame.linkType >= 0) writer.add(frame);
    else lost++;
  }
  writer.flush();
  return lost;
}

/** The documents of a page as printed: for a person, or NDJSON. */
function printed(page: PacketDoc[], format: 'dump' | 'ndjson'): string {
  let text = '';
  for (const doc of page) {
    if (format === 'ndjson') text += `${JSON.stringify(doc)}\n`;
    else {
      const source = typeof doc.file_name === 'string' ? path.basename(doc.file_name) : String(doc.interface_name ?? doc.capture);
      const head = { frame: Number(doc.frame_number), timestamp: String(doc['@timestamp']), protocol: String(doc.protocol), length: Number(doc.length), source };
      text += dumpPacket(head, (doc.layers ?? {}) as Record<string, Value>);
    }
  }
  return text;
}
