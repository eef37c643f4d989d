// A disposable process for engine.checkDisplayFilter(): reads one display
// filter on standard input and writes libwireshark's verdict as JSON. Some
// filters crash libwireshark itself while it compiles them; then only this
// process dies.
import { initEngine, loadAddon } from './engine';

let filter = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => (filter += chunk));
process.stdin.on('end', async () => {
  await initEngine();
  const problem = await loadAddon().checkFilter(filter);
  process.stdout.write(JSON.stringify({ problem }));
});
