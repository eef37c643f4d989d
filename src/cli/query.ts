// espcap --query: finds the packets (search/find-packets.ts) and reports what
// was found and written.
import type { QueryMode } from './args';
import type { ElasticsearchChoice } from '../outputs/elasticsearch';
import { findPackets } from '../search/find-packets';
import { warn } from '../errors';

export async function runQuery(mode: QueryMode, connection: ElasticsearchChoice, count: number, quiet: boolean): Promise<number> {
  const result = await findPackets(mode, connection, count);
  for (const [reason, n] of result.reasons) warn(`${reason}: ${n} packet${n === 1 ? '' : 's'} not written`);
  if (!quiet) {
    const { found, indices } = result;
    let summary = `${found} packet${found === 1 ? '' : 's'} found in ${indices}${count && found === count ? ` (stopped at --count ${count})` : ''}`;
    if (result.written !== undefined) summary += `; ${result.written} written to ${mode.write === '-' ? 'standard output' : mode.write}`;
    warn(summary);
  }
  return result.notWritten ? 1 : 0;
}
