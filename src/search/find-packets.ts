// --query: the packets a display filter finds in the packet indices, printed
// (dump or NDJSON) and/or read back from their original captures into a
// pcapng (--write), in time order.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { QueryMode } from '../cli/args';
import { checkCluster, clusterOptions, createClient, describeError } from '../elasticsearch/cluster';
import { indexPattern } from '../elasticsearch/mapping';
import { EspcapError } from '../errors';
import { dumpPacket, Value } from '../outputs/dump';
import type { ElasticsearchChoice } from '../outputs/elasticsearch';
import { PcapngWriter } from '../outputs/pcapng';
import { TextOutput } from '../outputs/text-output';
import { OutputClosedError } from '../sink';
import { translateDisplayFilter } from './filter-query';
import { CaptureFrames, FrameRequest } from './frames';
import { PacketDoc, searchPackets } from './search';
import type { EsQuery } from './translate';

export interface FindResult {
  /** Packets the search found. */
  found: number;
  /** The indices searched (a pattern). */
  indices: string;
  /** With --write: packets written to the pcapng. */
  written?: number;
  /** Packets found but not written, and why, counted by reason. */
  notWritten: number;
  reasons: Map<string, number>;
}

export async function findPackets(mode: QueryMode, connection: ElasticsearchChoice, count: number): Promise<FindResult> {
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
  return { found, indices, written: writer?.written, notWritten, reasons };
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
