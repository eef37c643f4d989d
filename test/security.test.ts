// Security: credentials never show in process arguments, child environments,
// output, errors or the dead-letter file; TLS certificates are verified unless
// the user says --insecure, which warns. (Dissection never running as root in
// live mode is tested in live-capture.test.ts, where there is an interface.)
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as path from 'node:path';
import { tempDir, testPcaps } from './support/paths';
import { espcapAsync, parseNdjson, Run } from './support/programs';
import { count, es, esUrl, resetCluster, tsharkCountsPerIndex } from './support/elasticsearch';

const dnsPcap = path.join(testPcaps, 'test_dns.pcap'); // 108 packets
const httpPcap = path.join(testPcaps, 'test_http.pcap'); // 1268 packets
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A process and all its descendants, from /proc. */
function processTree(pid: number): number[] {
  const children = (p: number): number[] => {
    try {
      return fs.readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...children(all[i]));
  return all;
}

const readProc = (pid: number, what: string) => {
  try {
    return fs.readFileSync(`/proc/${pid}/${what}`, 'latin1');
  } catch {
    return ''; // gone meanwhile
  }
};

/** The forms a secret travels in: as is, and inside an HTTP basic authorization header. */
const forms = (user: string, secret: string) => [secret, Buffer.from(`${user}:${secret}`).toString('base64')];

/**
 * Runs espcap and, every 200 ms while it runs, looks at the command lines of
 * espcap and its dissecting processes, and at the environments of the
 * dissecting processes: the secret must be in none of them.
 */
async function runWatched(args: string[], env: NodeJS.ProcessEnv, secrets: string[]): Promise<Run & { looks: number; processes: number }> {
  const run = espcapAsync(args, { env: { ...process.env, ...env } });
  let finished = false;
  let looks = 0;
  const seen = new Set<number>();
  const watching = (async () => {
    await sleep(300); // espcap blanks an --api-key as it starts
    while (!finished) {
      const [espcap, ...children] = processTree(run.pid);
      for (const pid of [espcap, ...children]) {
        seen.add(pid);
        const cmdline = readProc(pid, 'cmdline');
        for (const secret of secrets) assert.ok(!cmdline.includes(secret), `the secret is on the command line of ${pid}: ${cmdline}`);
      }
      for (const pid of children) {
        const environ = readProc(pid, 'environ');
        for (const secret of secrets) assert.ok(!environ.includes(secret), `the secret is in the environment of dissecting process ${pid}`);
      }
      looks++;
      await sleep(200);
    }
  })();
  const result = await run.done;
  finished = true;
  await watching;
  return { ...result, looks, processes: seen.size };
}

/** Indices for the days of the captures, blocked for writes: espcap runs until its retry deadline, then dead-letters. */
async function blockedIndices(files: string[]): Promise<number> {
  const days = await tsharkCountsPerIndex(files);
  for (const index of days.keys()) await es('PUT', `/${index}`, { settings: { 'index.blocks.write': true } });
  return [...days.values()].reduce((a, b) => a + b, 0);
}

function assertNowhere(secrets: string[], texts: Record<string, string>): void {
  for (const [where, text] of Object.entries(texts)) for (const secret of secrets) assert.ok(!text.includes(secret), `the secret is in ${where}`);
}

test('a password (ESPCAP_PASSWORD) is in no command line, no dissecting process environment, no output, error or dead letter', async () => {
  await resetCluster();
  const secret = 'pw-4d1e-SECRET-never-shown';
  const packets = await blockedIndices([dnsPcap, httpPcap]);
  const deadLetter = path.join(tempDir('secret'), 'dead.ndjson');
  const args = ['--file', dnsPcap, '--file', httpPcap, '--workers', '2', '--node', esUrl(), '--username', 'elastic', '--retry-deadline', '3', '--dead-letter', deadLetter];
  const run = await runWatched(args, { ESPCAP_PASSWORD: secret }, forms('elastic', secret));
  assert.equal(run.status, 1, run.stderr);
  assert.ok(run.looks >= 5 && run.processes >= 2, `watched ${run.looks} times, ${run.processes} processes`);
  const letters = fs.readFileSync(deadLetter, 'utf8');
  assert.equal(parseNdjson(letters).length, packets, 'every packet dead-lettered, with its reason');
  assertNowhere(forms('elastic', secret), { stdout: run.stdout, stderr: run.stderr, 'the dead-letter file': letters });
  await resetCluster();
});

test('an API key from --api-key is blanked from the command line; from --api-key-file it never shows', async () => {
  await resetCluster();
  const secret = 'apikey-93b2-SECRET-never-shown';
  const keyFile = path.join(tempDir('key'), 'api key');
  fs.writeFileSync(keyFile, secret + '\n', { mode: 0o600 });
  await blockedIndices([dnsPcap]);
  for (const flags of [['--api-key', secret], [`--api-key=${secret}`], ['--api-key-file', keyFile]]) {
    const deadLetter = path.join(tempDir('secret'), 'dead.ndjson');
    const args = ['--file', dnsPcap, '--node', esUrl(), ...flags, '--retry-deadline', '2', '--dead-letter', deadLetter];
    const run = await runWatched(args, {}, [secret]);
    assert.equal(run.status, 1, run.stderr);
    assert.ok(run.looks >= 5, `watched ${run.looks} times`);
    assertNowhere([secret], { stdout: run.stdout, stderr: run.stderr, 'the dead-letter file': fs.readFileSync(deadLetter, 'utf8') });
  }
  await resetCluster();
});

test('a password in an unreachable-cluster error or a refused start-up is not repeated', async () => {
  const secret = 'pw-77aa-SECRET-never-shown';
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const port = (server.address() as net.AddressInfo).port;
  server.close(); // nothing listens there now
  const run = await espcapAsync(['--file', dnsPcap, '--node', `127.0.0.1:${port}`, '--username', 'elastic'], { env: { ...process.env, ESPCAP_PASSWORD: secret } }).done;
  assert.equal(run.status, 1);
  assert.match(run.stderr, /^espcap: Elasticsearch at http:\/\/127\.0\.0\.1:\d+: cannot connect/);
  assertNowhere(forms('elastic', secret), { stderr: run.stderr, stdout: run.stdout });
});

/**
 * An HTTPS front for the test cluster with a certificate made here for
 * 127.0.0.1, signed by nobody anyone trusts: TLS exactly as a cluster with
 * its own certificate authority offers it.
 */
async function tlsFront(): Promise<{ url: string; caFile: string; close: () => void }> {
  const dir = tempDir('tls');
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const target = new URL(esUrl());
  const server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (req, res) => {
    const upstream = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return { url: `https://127.0.0.1:${port}`, caFile: cert, close: () => server.close() };
}

test('TLS: a certificate nobody vouches for is refused by default; --ca-cert trusts it; --insecure works and warns', async () => {
  await resetCluster();
  const front = await tlsFront();
  try {
    const refused = await espcapAsync(['--file', dnsPcap, '--node', front.url]).done;
    assert.equal(refused.status, 1);
    const lines = refused.stderr.trim().split('\n');
    assert.equal(lines.length, 1, refused.stderr);
    assert.match(lines[0], /^espcap: Elasticsearch at https:\/\/127\.0\.0\.1:\d+: TLS failed: .*self.signed.* \(give --ca-cert, or --insecure to skip verification\)$/);
    assert.equal(await count({ match_all: {} }), 0, 'nothing was sent');

    const trusted = await espcapAsync(['--file', dnsPcap, '--node', front.url, '--ca-cert', front.caFile]).done;
    assert.equal(trusted.status, 0, trusted.stderr);
    assert.doesNotMatch(trusted.stderr, /insecure|not verified/);
    assert.equal(await count({ match_all: {} }), 108);

    await resetCluster();
    const insecure = await espcapAsync(['--file', dnsPcap, '--node', front.url, '--insecure']).done;
    assert.equal(insecure.status, 0, insecure.stderr);
    assert.match(insecure.stderr, /^espcap: warning: --insecure: TLS certificates are not verified/m);
    assert.equal(await count({ match_all: {} }), 108);
  } finally {
    front.close();
    await resetCluster();
  }
});
