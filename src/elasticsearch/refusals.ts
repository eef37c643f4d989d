// What a cluster refuses, said as its cause and the way out. Elasticsearch's
// own reasons name an internal block or breaker ("blocked by:
// [TOO_MANY_REQUESTS/12/disk usage exceeded flood-stage watermark, index has
// read-only-allow-delete block]"); a user needs to know what to change.

export interface EsError {
  type?: string;
  reason?: string;
}

/** Elasticsearch's reason on one line (some carry a second, indented line), or its type. */
export function reasonOf(error: EsError | undefined): string {
  return (error?.reason ?? error?.type ?? '').replace(/\s*\n\s*/g, ' ');
}

/** Blocks an administrator sets, as Elasticsearch names them in a reason. */
const ADMIN_BLOCKS = [
  { named: 'index write (api)', setting: 'write' },
  { named: 'index read-only (api)', setting: 'read_only' },
];

/** The index an Elasticsearch reason names ("index [packets-2024-01-01] blocked by: ...", "[packets-2024-01-01][0] primary shard is not active"), if any. */
function indexIn(reason: string): string | undefined {
  return (/index \[([^\]]+)\]/.exec(reason) ?? /^\[([^\]]+)\]\[\d+\]/.exec(reason))?.[1];
}

/**
 * The cause of a refusal and the way out, in one phrase, for the refusals
 * that have one; undefined when Elasticsearch's own reason is all there is to say.
 */
export function explainRefusal(error: EsError | undefined): string | undefined {
  const reason = reasonOf(error);
  switch (error?.type) {
    case 'cluster_block_exception': {
      const index = indexIn(reason) ?? 'the index';
      if (/flood.stage watermark|read-only-allow-delete/.test(reason))
        return (
          `a node holding ${index} has less free disk than the flood-stage watermark, so Elasticsearch made the index read-only ` +
          `(index.blocks.read_only_allow_delete; lifted by itself once the disk is below the high watermark): free disk space on the node or delete old indices`
        );
      const block = ADMIN_BLOCKS.find((b) => reason.includes(b.named));
      if (block)
        return `${index} is blocked for writes by index.blocks.${block.setting}, set by an administrator: lift it with PUT /${index}/_settings {"index.blocks.${block.setting}": null}`;
      if (/cluster read-only/.test(reason))
        return 'the cluster is read-only (cluster.blocks.read_only or read_only_allow_delete, set by an administrator): lift it with PUT /_cluster/settings';
      return undefined;
    }
    case 'circuit_breaking_exception': {
      // "[parent] Data too large, data for [<http_request>] would be [1.1gb/...], which is larger than the limit of [972.7mb/...]"
      const m = /^\[([^\]]+)\] Data too large, data for \[[^\]]*\] would be \[\d+\/([^\]]+)\], which is larger than the limit of \[\d+\/([^\]]+)\]/.exec(reason);
      const what = m ? `its ${m[1]} memory would reach ${m[2]}, past the limit of ${m[3]}` : reason;
      return `Elasticsearch's circuit breaker refuses the requests (${what}): give its nodes more heap, or send less at once (--bulk-mb, --bulk-inflight)`;
    }
    case 'es_rejected_execution_exception':
      return 'the nodes\' write queues are full: the cluster does not keep up (add nodes, or send less at once: --bulk-inflight)';
    case 'unavailable_shards_exception':
      return `${indexIn(reason) ?? 'an index'} has no active primary shard: a node is gone or none may hold it (GET /_cluster/allocation/explain says why)`;
    default:
      return undefined;
  }
}

/** The field limit an index reached, from a refused mapping update ("Limit of total fields [1000] has been exceeded ..."). */
export function fieldLimitIn(error: EsError | undefined): number | undefined {
  const m = /Limit of total fields \[(\d+)\] has been exceeded/.exec(error?.reason ?? '');
  return m ? Number(m[1]) : undefined;
}

/** One line for a refused request or document: the cause and the way out where known, else Elasticsearch's reason. */
export function describeRefusal(status: number | undefined, error: EsError | undefined): string {
  const explained = explainRefusal(error);
  if (explained) return explained;
  const reason = reasonOf(error);
  return `HTTP ${status ?? '?'}${reason ? ': ' + reason : ''}`;
}
