// Talking to a node over HTTP, and finding free ports for new nodes.
import * as http from 'node:http';
import * as net from 'node:net';
import { ClusterError } from './common';

export interface HttpAnswer {
  /** 0 when there was no answer (refused, reset, timed out). */
  status: number;
  body: string;
  error?: Error;
}

/** GET url; never rejects (a node that is starting or gone is an expected answer). */
export function httpGet(url: string, timeoutMs = 5000): Promise<HttpAnswer> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (e) => resolve({ status: 0, body: '', error: e }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, body: '', error: e }));
  });
}

export function parseJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Cluster health at url is yellow or green, with at least `nodes` nodes. */
export async function healthy(url: string, nodes = 1): Promise<boolean> {
  const r = await httpGet(`${url}/_cluster/health?wait_for_status=yellow&wait_for_nodes=${nodes}&timeout=1s`);
  const h = r.status === 200 ? parseJson(r.body) : null;
  return !!h && (h.status === 'green' || h.status === 'yellow');
}

/** The port if 127.0.0.1:port could be bound (0: any), else null. */
function tryListen(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(null));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      const got = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(got));
    });
  });
}

/** A free port on 127.0.0.1, preferably in [from, to], not one of exclude. */
export async function freePort(from: number, to: number, exclude: number[]): Promise<number> {
  for (let p = from; p <= to; p++) {
    if (exclude.includes(p)) continue;
    if ((await tryListen(p)) !== null) return p;
  }
  for (let i = 0; i < 20; i++) {
    const p = await tryListen(0);
    if (p !== null && !exclude.includes(p)) return p;
  }
  throw new ClusterError('found no free TCP port on 127.0.0.1');
}
