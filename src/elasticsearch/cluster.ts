// Connecting to Elasticsearch: node list, credentials, TLS, and one check at
// start-up that fails fast with a one-line error.
import * as fs from 'node:fs';
import { Client, ClusterConnectionPool, errors } from '@elastic/elasticsearch';
import { EspcapError, UsageError, warn } from '../errors';
import { describeRefusal, EsError, explainRefusal, reasonOf } from './refusals';

/** How to reach the cluster; passed to dissecting processes over IPC, never in arguments. */
export interface ClusterOptions {
  nodes: string[];
  apiKey?: string;
  username?: string;
  password?: string;
  /** PEM contents of the CA certificate(s) to trust. */
  caCert?: string;
  /** TLS certificate verification; on unless --insecure. */
  verifyTls: boolean;
  requestTimeoutMs: number;
}

/** "host:port", "https://host:port", or several of them, comma-separated. */
export function parseNodes(value: string): string[] {
  const nodes = value
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean)
    .map((n) => (/^https?:\/\//i.test(n) ? n : `http://${n}`));
  if (nodes.length === 0) throw new UsageError('--node needs at least one host:port or URL');
  for (const n of nodes) {
    let url: URL;
    try {
      url = new URL(n);
    } catch {
      throw new UsageError(`--node: "${n}" is not a host:port or URL`);
    }
    if (url.username || url.password) throw new UsageError('--node: put credentials in --username/ESPCAP_PASSWORD or --api-key, not in the URL');
  }
  return nodes;
}

export function readSecretFile(flag: string, file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new EspcapError(`cannot read ${flag} ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
}

/** The connection flags as given (--node, --username, ...), before the secrets are read. */
export interface ConnectionFlags {
  /** host:port or URLs, comma-separated. */
  node: string;
  username?: string;
  /** From ESPCAP_PASSWORD. */
  password?: string;
  passwordFile?: string;
  /** From --api-key or ESPCAP_API_KEY. */
  apiKey?: string;
  apiKeyFile?: string;
  caCert?: string;
  insecure: boolean;
}

/** How to reach the cluster, from the flags: the files named are read, a missing password refused, --insecure warned about. */
export function clusterOptions(flags: ConnectionFlags): ClusterOptions {
  const cluster: ClusterOptions = {
    nodes: parseNodes(flags.node),
    username: flags.username,
    password: flags.passwordFile ? readSecretFile('--password-file', flags.passwordFile) : flags.password,
    apiKey: flags.apiKeyFile ? readSecretFile('--api-key-file', flags.apiKeyFile) : flags.apiKey,
    caCert: flags.caCert ? readSecretFile('--ca-cert', flags.caCert) : undefined,
    verifyTls: !flags.insecure,
    requestTimeoutMs: 60000,
  };
  if (flags.username && cluster.password === undefined) throw new UsageError('--username needs a password: set ESPCAP_PASSWORD or give --password-file');
  if (flags.insecure) warn('warning: --insecure: TLS certificates are not verified; anyone on the path can read and change what is indexed');
  return cluster;
}

export function createClient(options: ClusterOptions): Client {
  const auth = options.apiKey
    ? { apiKey: options.apiKey }
    : options.username
      ? { username: options.username, password: options.password ?? '' }
      : undefined;
  return new Client({
    nodes: options.nodes,
    auth,
    tls: { ca: options.caCert, rejectUnauthorized: options.verifyTls },
    requestTimeout: options.requestTimeoutMs,
    // espcap retries itself, with its own deadline (see bulk-sink.ts).
    maxRetries: 0,
    // The default (weighted) pool, once every node has failed (a cluster
    // restart), answers "no living connections" for about as many requests
    // as the nodes failed before trying one again. This one tries the dead
    // nodes when no node is alive, and pings a dead node back after a while.
    ConnectionPool: ClusterConnectionPool,
    compression: false,
    sniffOnStart: false,
  });
}

/** Whole requests answered with these are retried: overloaded, blocked for disk space, or a node restarting. */
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

/** A failure worth retrying: the cluster is away, overloaded or restarting. */
export function retryable(err: unknown): boolean {
  if (err instanceof errors.ResponseError) return RETRYABLE_STATUS.has(err.meta.statusCode ?? 0);
  return err instanceof errors.ConnectionError || err instanceof errors.TimeoutError || err instanceof errors.NoLivingConnectionsError;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Exponential backoff with full jitter: 0..min(30 s, 250 ms * 2^attempt). */
export function backoff(attempt: number): number {
  return Math.random() * Math.min(30000, 250 * 2 ** attempt);
}

/** A deadline `ms` from `from`: true once it has passed. */
export function deadline(ms: number, from = Date.now()): () => boolean {
  return () => Date.now() - from >= ms;
}

/**
 * Runs a request, retrying it while the cluster is away or overloaded, until
 * `expired()`; then the last error is thrown.
 */
export async function withRetries<T>(request: () => Promise<T>, expired: () => boolean, onRetry: (err: unknown) => void = () => {}): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await request();
    } catch (err) {
      if (!retryable(err) || expired()) throw err;
      onRetry(err);
      await sleep(backoff(attempt));
    }
  }
}

/** A one-line description of why a request failed, without credentials or stack. */
export function describeError(err: unknown): string {
  if (err instanceof errors.ResponseError) {
    const body = err.meta.body as { error?: EsError } | undefined;
    if (err.meta.statusCode === 401) return 'authentication failed (401): check --username/ESPCAP_PASSWORD or --api-key';
    if (err.meta.statusCode === 403 && !explainRefusal(body?.error)) {
      const reason = reasonOf(body?.error);
      return `not allowed (403)${reason ? ': ' + reason : ''}`;
    }
    return describeRefusal(err.meta.statusCode, body?.error);
  }
  if (err instanceof errors.ProductNotSupportedError) return 'the server is not Elasticsearch';
  if (err instanceof errors.ConnectionError) {
    const cause = err.message.split('\n')[0];
    if (/certificate|self.signed|SSL|TLS/i.test(cause)) return `TLS failed: ${cause} (give --ca-cert, or --insecure to skip verification)`;
    return `cannot connect: ${cause}`;
  }
  if (err instanceof errors.TimeoutError) return 'the request timed out';
  return (err as Error).message.split('\n')[0];
}

export interface ClusterInfo {
  version: string;
  /** The unsigned_long field type exists (its module is missing from minimal distributions). */
  unsignedLong: boolean;
}

/**
 * Checks the cluster once: reachable, really Elasticsearch, credentials
 * accepted, version 8 or 9. Asks the node API rather than GET /, which minimal
 * distributions (the integ-test zip) do not serve.
 */
export async function checkCluster(client: Client, nodes: string[]): Promise<ClusterInfo> {
  try {
    const response = (await client.transport.request({
      method: 'GET',
      path: '/_nodes/_local/plugins',
      querystring: { filter_path: 'nodes.*.version,nodes.*.modules.name' },
    })) as { nodes: Record<string, { version: string; modules: { name: string }[] }> };
    const node = Object.values(response.nodes)[0];
    const version = node.version;
    const major = Number(version.split('.')[0]);
    if (major < 8) throw new EspcapError(`Elasticsearch ${version} at ${nodes.join(',')} is too old: espcap needs 8.x or 9.x`);
    return { version, unsignedLong: node.modules.some((m) => m.name === 'unsigned-long') };
  } catch (err) {
    if (err instanceof EspcapError) throw err;
    throw new EspcapError(`Elasticsearch at ${nodes.join(',')}: ${describeError(err)}`);
  }
}
