// The two kinds of failure the command line distinguishes by exit code.

/** A wrong command line: exit code 2. */
export class UsageError extends Error {}

/** A failure while running (unreadable capture, broken file, output error): exit code 1. */
export class EspcapError extends Error {
  constructor(message: string, readonly code = 'ERROR') {
    super(message);
  }
}
