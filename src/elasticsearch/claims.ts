// Several espcap processes — on one host or many, sharing one archive (an NFS
// or SMB mount) and one cluster — share its files through Elasticsearch, with
// no coordinator of their own: before reading a capture a process claims it
// in the resume-state index (ingest-state.ts), next to the record of the
// captures already indexed.
//
// - A claim is the capture's state document with status "claimed", made with
//   an atomic create: of several processes only one succeeds.
// - Its holder renews it every quarter of the lease (--lease), each renewal
//   conditional on the version it last wrote (if_seq_no/if_primary_term).
// - A claim is taken over, conditionally on the version seen, once nobody has
//   renewed it for a whole lease. No clock is compared: a process sees a claim
//   expire when the claim's version has not changed for a lease by its own
//   monotonic clock, so a host whose wall clock is minutes off neither steals
//   live claims nor leaves dead ones. (The times written in a claim are for
//   people reading the state.) The taker reads the capture again from its
//   start: what the dead holder had indexed comes back as duplicates, by id.
// - A claim of this host id (a run restarted with the same --host-id), or of
//   the default id of a process of this host (same host name and boot) that
//   is gone, is taken over at once.
// - When every packet is settled, the state document becomes the record of a
//   finished capture (IngestState.record). A capture that fails to read, or
//   that a stopped run had not finished, is released: its claim is deleted.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { Client, errors } from '@elastic/elasticsearch';
import { EspcapError, warn } from '../errors';
import { deadline, describeError, withRetries } from './cluster';
import { IngestState, STATE_INDEX } from './ingest-state';

/** What may be done with a capture: read it, it is done, or another process holds it now. */
export type ClaimVerdict = 'ours' | 'done' | 'held';

export interface ClaimOptions {
  /** Who this process is in the state (--host-id). */
  hostId: string;
  /** A claim not renewed for this long is taken over (--lease). */
  leaseMs: number;
  retryDeadlineMs: number;
  /** The wall clock for the times written in claims (tests set one minutes off). */
  clock?: () => number;
}

interface ClaimDocument {
  capture_id: string;
  filter: string | null;
  status: 'claimed';
  host_id: string;
  path: string;
  size: number;
  claimed_at: string;
  renewed_at: string;
  renewals: number;
  taken_over_from?: string;
  /** The kernel's boot id of the claimer's host: with the host name, tells a process of this host. */
  boot_id: string;
}

/** This boot of this host's kernel (so a process id of a claim means the same process here). */
const BOOT_ID = (() => {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
})();

interface Version {
  seqNo: number;
  primaryTerm: number;
}

/** True if `hostId` is the default id (host name:process id, cli/args.ts) of a process of this host, since its boot, that no longer runs. */
function goneLocalProcess(hostId: string, bootId: string | undefined): boolean {
  const m = /^(.*):(\d+)$/.exec(hostId);
  if (!m || m[1] !== os.hostname() || !BOOT_ID || bootId !== BOOT_ID) return false;
  try {
    process.kill(Number(m[2]), 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function conflict(err: unknown): boolean {
  return err instanceof errors.ResponseError && err.meta.statusCode === 409;
}

function notFound(err: unknown): boolean {
  return err instanceof errors.ResponseError && err.meta.statusCode === 404;
}

export class CaptureClaims {
  /** Claims held, by state id: the version last written, and the document. */
  private readonly held = new Map<string, { version: Version; doc: ClaimDocument }>();
  /** Other processes' claims: the version first seen, and since when (monotonic ms). */
  private readonly seen = new Map<string, Version & { since: number }>();
  private readonly timer: NodeJS.Timeout;
  /** A round of renewals is out: the next waits (two at once would conflict with each other). */
  private renewing = false;
  private readonly clock: () => number;
  /** What this process did, for its summary. */
  readonly stats = { claimed: 0, doneElsewhere: 0, takenOver: [] as { path: string; from: string }[], lost: [] as string[] };

  constructor(
    private readonly client: Client,
    private readonly state: IngestState,
    private readonly options: ClaimOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.timer = setInterval(() => void this.renewAll(), options.leaseMs / 4);
    this.timer.unref();
  }

  get hostId(): string {
    return this.options.hostId;
  }

  /**
   * How long to wait before asking again about captures held elsewhere: a
   * second at most, so that a process that has nothing else to do ends soon
   * after the last capture is done (one small read per capture waited for).
   */
  get retryMs(): number {
    return Math.max(250, Math.min(1000, this.options.leaseMs / 4));
  }

  private retrying<T>(request: () => Promise<T>): Promise<T> {
    return withRetries(request, deadline(this.options.retryDeadlineMs));
  }

  /** Claims a capture before reading it. */
  async claim(capture: { captureId: string; path: string; size: number }): Promise<ClaimVerdict> {
    const id = this.state.stateId(capture.captureId);
    const now = new Date(this.clock()).toISOString();
    const doc: ClaimDocument = {
      capture_id: capture.captureId,
      filter: this.state.filter ?? null,
      status: 'claimed',
      host_id: this.options.hostId,
      path: capture.path,
      size: capture.size,
      claimed_at: now,
      renewed_at: now,
      renewals: 0,
      boot_id: BOOT_ID,
    };
    try {
      for (;;) {
        try {
          const made = await this.retrying(() => this.client.create({ index: STATE_INDEX, id, document: doc }));
          return this.hold(id, { seqNo: made._seq_no!, primaryTerm: made._primary_term! }, doc);
        } catch (err) {
          if (!conflict(err)) throw err;
        }
        let found;
        try {
          found = await this.retrying(() => this.client.get<{ status?: string; host_id?: string; boot_id?: string }>({ index: STATE_INDEX, id }));
        } catch (err) {
          if (notFound(err)) continue; // released meanwhile: try to create it again
          throw err;
        }
        const version = { seqNo: found._seq_no!, primaryTerm: found._primary_term! };
        const source = found._source ?? {};
        if (source.status !== 'claimed') {
          // A finished capture: finished in this run's time by another process, unless it is
          // the very record the start of this run found (its packets have gone since), which is read again.
          if (!this.state.sameAsAtStart(id, version)) {
            this.stats.doneElsewhere++;
            return 'done';
          }
        } else if (!this.expired(id, version, source.host_id ?? '', source.boot_id)) {
          return 'held';
        }
        const taken: ClaimDocument = { ...doc, ...(source.status === 'claimed' ? { taken_over_from: source.host_id } : {}) };
        try {
          const written = await this.retrying(() =>
            this.client.index({ index: STATE_INDEX, id, document: taken, if_seq_no: version.seqNo, if_primary_term: version.primaryTerm }),
          );
          if (source.status === 'claimed') this.stats.takenOver.push({ path: capture.path, from: source.host_id ?? '?' });
          return this.hold(id, { seqNo: written._seq_no!, primaryTerm: written._primary_term! }, taken);
        } catch (err) {
          if (!conflict(err)) throw err;
          // Someone renewed, took over or finished it first: look again.
        }
      }
    } catch (err) {
      throw new EspcapError(`Elasticsearch: cannot claim ${capture.path}: ${describeError(err)}`);
    }
  }

  private hold(id: string, version: Version, doc: ClaimDocument): ClaimVerdict {
    this.held.set(id, { version, doc });
    this.seen.delete(id);
    this.stats.claimed++;
    return 'ours';
  }

  /** Whether another process's claim has expired (see the top of this file). */
  private expired(id: string, version: Version, holder: string, bootId: string | undefined): boolean {
    if (holder === this.options.hostId || goneLocalProcess(holder, bootId)) return true;
    const now = performance.now();
    const seen = this.seen.get(id);
    if (!seen || seen.seqNo !== version.seqNo || seen.primaryTerm !== version.primaryTerm) {
      this.seen.set(id, { ...version, since: now });
      return false;
    }
    return now - seen.since >= this.options.leaseMs;
  }

  /** Renews every claim held; a claim taken over meanwhile is given up (this process was stalled for a lease). */
  private async renewAll(): Promise<void> {
    if (this.renewing) return;
    this.renewing = true;
    try {
      await this.renewEach();
    } finally {
      this.renewing = false;
    }
  }

  private async renewEach(): Promise<void> {
    for (const [id, claim] of this.held) {
      const doc = { ...claim.doc, renewed_at: new Date(this.clock()).toISOString(), renewals: claim.doc.renewals + 1 };
      try {
        const written = await this.client.index({
          index: STATE_INDEX,
          id,
          document: doc,
          if_seq_no: claim.version.seqNo,
          if_primary_term: claim.version.primaryTerm,
        });
        // Settled or released while the request was out: leave it so.
        if (this.held.get(id) === claim) this.held.set(id, { version: { seqNo: written._seq_no!, primaryTerm: written._primary_term! }, doc });
      } catch (err) {
        if (!(conflict(err) || notFound(err)) || this.held.get(id) !== claim) continue; // the cluster is away: the next round tries again
        this.held.delete(id);
        this.stats.lost.push(claim.doc.path);
        warn(
          `warning: the claim on ${claim.doc.path} was taken over by another process (this one renewed nothing for --lease); ` +
            'both read it, the second copy of each packet counts as a duplicate',
        );
      }
    }
  }

  /** Every packet of the capture is settled: IngestState.record() turns its claim into the record. */
  settled(captureId: string): void {
    this.held.delete(this.state.stateId(captureId));
  }

  /** The capture failed, or the run stopped before finishing it: its claim is deleted, so another process may take it at once. */
  async release(captureId: string): Promise<void> {
    const id = this.state.stateId(captureId);
    const claim = this.held.get(id);
    if (!claim) return;
    this.held.delete(id);
    try {
      await this.client.delete({ index: STATE_INDEX, id, if_seq_no: claim.version.seqNo, if_primary_term: claim.version.primaryTerm });
    } catch {
      // Taken over, or the cluster is away: the lease expires by itself.
    }
  }

  /** Stops renewing and releases every claim still held. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const [id, claim] of [...this.held]) await this.release(claim.doc.capture_id).catch(() => this.held.delete(id));
  }
}
