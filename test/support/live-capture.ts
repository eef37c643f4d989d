// espcap capturing live in the capture namespace of a VethPair, for the live
// tests: started, watched, and stopped within a deadline.
import * as assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import type { TestContext } from 'node:test';
import type { VethPair } from './network';
import { espcapBin } from './paths';

export interface Capture {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts `espcap --nic` in the capture namespace and waits until it captures; it is killed when the test ends, if still running. */
export async function startCapture(net: VethPair, t: TestContext, args: string[]): Promise<Capture> {
  const child = net.spawnInCapture(process.execPath, [espcapBin, '--nic', net.nic, ...args], { detached: true });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  for (let waited = 0; !/capturing on/.test(stderr); waited += 50) {
    if (waited > 15000 || child.exitCode !== null) throw new Error(`espcap did not start capturing:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, stderr: () => stderr, exited };
}

/** Waits for espcap's exit at most `seconds`: a lost packet under --count fails the test instead of hanging it. */
export async function exitWithin(capture: Capture, seconds: number, what: string): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`waited ${seconds} s for espcap to ${what}:\n${capture.stderr()}`)), seconds * 1000);
  });
  try {
    return await Promise.race([capture.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Ctrl-C to espcap's process group, as a terminal sends it; its exit code must be `expected` within a minute. */
export async function stopWithCtrlC(capture: Capture, expected = 0): Promise<void> {
  process.kill(-capture.child.pid!, 'SIGINT');
  assert.equal(await exitWithin(capture, 60, 'stop after Ctrl-C'), expected, capture.stderr());
}
