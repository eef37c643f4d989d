// Every function of the addon's surface called once or more, the refused
// calls too, with what each gave printed as one JSON object: run under the
// normal build and the sanitizer build (test/sanitized-addon.test.ts), the
// two must print the same. Run as a program: node addon-calls.js CAPTURE.
import { initEngine, loadAddon } from '../../src/engine/engine';

async function main(): Promise<void> {
  const capture = process.argv[2];
  const addon = loadAddon();
  const out: Record<string, unknown> = {};
  const refusal = (call: () => unknown) => {
    try {
      call();
      return 'accepted';
    } catch (err) {
      return `${(err as { code?: string }).code}: ${(err as Error).message}`;
    }
  };
  out.contract = refusal(() => addon.documentContract());
  out.errorCodes = addon.errorCodes().length;
  await initEngine();
  out.contract = [out.contract, addon.documentContract().packetFields.length];
  out.registry = (await addon.fieldRegistry()).split('\n').length;
  const options = { path: capture, maxBytes: 64, sessionPackets: 50, skipRecords: 3, batchSize: 7, readAhead: 2, maxPackets: 0, dissectOnly: false, documentFields: ',"capture":"file"' };
  const reader = await addon.open(options);
  let text = '';
  for (let batch = await reader.next(); batch; batch = await reader.next()) text += batch.text.toString('latin1') + batch.newFields;
  out.stats = reader.stats();
  reader.close();
  out.documents = text;
  out.refused = [
    refusal(() => addon.open({ ...options, batchSize: 0 })),
    refusal(() => addon.open({ ...options, unknown: 1 } as never)),
    refusal(() => (addon.open as (o?: unknown) => unknown)()),
    refusal(() => addon.openLive({ interface: 'lo', promisc: false, bufferBytes: 1 << 20, queueBytes: 1 << 20, maxPackets: 0 } as never)),
    refusal(() => addon.openLive({ interface: 'lo', snaplen: 65535, promisc: false, bufferBytes: 1 << 20, queueBytes: 1 << 20, maxPackets: 0, bpf: 'not a filter (' })),
    refusal(() => addon.openLive({ interface: 'no-such-nic0', snaplen: 65535, promisc: false, bufferBytes: 1 << 20, queueBytes: 1 << 20, maxPackets: 0 })),
    refusal(() => addon.closeFd(-1)),
    refusal(() => addon.openFrames('/nonexistent.pcap')),
  ];
  out.rejected = await addon.open({ ...options, filter: 'dns.qry.name ===' }).then(
    () => 'accepted',
    (err: Error & { code: string }) => `${err.code}: ${err.message}`,
  );
  // A capture cut into parts of 5 records, its second part read on its own (a stream fed by a thread of the addon).
  const plan = await addon.planParts(capture, 5);
  out.plan = plan;
  if (plan.starts.length) {
    const part = { firstRecord: 5, start: plan.starts[0], end: plan.starts[1] ?? 0, headerBytes: plan.headerBytes, fileType: plan.fileType };
    const partReader = await addon.open({ ...options, skipRecords: 6, part });
    let partText = '';
    for (let batch = await partReader.next(); batch; batch = await partReader.next()) partText += batch.text.toString('latin1');
    out.part = { documents: partText, stats: partReader.stats() };
    partReader.close();
    // Closed before it is read: the thread feeding it stops.
    (await addon.open({ ...options, skipRecords: 5, part })).close();
    out.refusedParts = [
      refusal(() => addon.open({ ...options, skipRecords: 4, part })),
      refusal(() => addon.open({ ...options, part: { ...part, start: 0 } })),
      refusal(() => addon.open({ ...options, part: { ...part, extra: 1 } as never })),
      refusal(() => (addon.planParts as (p: string) => unknown)(capture)),
    ];
  }
  out.filters = await Promise.all(['tcp.port == 80', 'tcp.port in {80 443}', 'no.such.field', ''].map((f) => addon.checkFilter(f)));
  const frames = addon.openFrames(capture);
  const read = [...frames.read([1, 2, 5]), ...frames.read([9, 100000])].map((f) => ({ ...f, data: f.data.toString('hex') }));
  out.frames = { read, position: frames.position() };
  frames.close();
  out.afterClose = refusal(() => frames.read([200000]));
  const [r, w] = addon.makePipe();
  addon.closeFd(r);
  addon.closeFd(w);
  out.interfaces = addon.listInterfaces().some((i) => i.loopback);
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exitCode = 1;
});
