// The two kinds of failure the command line distinguishes by exit code, and
// how espcap speaks to its user: one line on standard error, prefixed.

/** A wrong command line: exit code 2. */
export class UsageError extends Error {}

/** A failure while running (unreadable capture, broken file, output error): exit code 1. */
export class EspcapError extends Error {
  constructor(message: string, readonly code = 'ERROR') {
    super(message);
  }
}

/** Why a file write failed, for a one-line error: a full disk in words, anything else as Node says it. */
export function writeFailure(err: unknown): string {
  return (err as NodeJS.ErrnoException).code === 'ENOSPC' ? 'no space left on device' : (err as Error).message;
}

/**
 * A message as one line, whatever the user typed into it: control characters
 * (a tab or a newline inside a display filter, say) are written as escapes.
 */
export function oneLine(message: string): string {
  const names: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };
  return message.replace(/[\u0000-\u001f\u007f]/g, (c) => names[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** A warning or report line for the user, on standard error. */
export function warn(message: string): void {
  process.stderr.write(`espcap: ${message}\n`);
}
