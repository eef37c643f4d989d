// What every part of the test-cluster harness shares: its errors, its
// progress lines, and two small helpers.

/** Prefix of the harness's progress lines on stderr and of its one-line errors on the command line. */
export const NAME = 'espcap-es';

/** An error whose message is meant for the user as is (no stack trace). */
export class ClusterError extends Error {}

/** Where progress lines go; a no-op when quiet. */
export type Log = (msg: string) => void;

export function logger(quiet: boolean): Log {
  return (msg) => {
    if (!quiet) process.stderr.write(`${NAME}: ${msg}\n`);
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The last n lines of text, trailing blank lines left out. */
export function lastLines(text: string, n: number): string[] {
  const lines = text.split('\n');
  while (lines.length && lines[lines.length - 1].trim() === '') lines.pop();
  return lines.slice(-n);
}
