// docs/flags.md is generated from the flags' one definition (src/cli/args.ts):
// it must be what the generator makes of the definition now, and it must name
// every flag that --help prints, so that the page and --help cannot disagree.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { flagReference } from '../../src/cli/flag-reference';

// Compiled to dist/test/unit: the repository is three levels up.
const root = path.join(__dirname, '..', '..', '..');
const flagsMd = path.join(root, 'docs', 'flags.md');

test('docs/flags.md is what the generator makes of the flag definitions (npm run docs:flags)', () => {
  assert.equal(fs.readFileSync(flagsMd, 'utf8'), flagReference(), 'docs/flags.md is out of date: run npm run docs:flags');
});

test('every flag espcap --help prints is in docs/flags.md', () => {
  const help = execFileSync(process.execPath, [path.join(root, 'bin', 'espcap.js'), '--help'], { encoding: 'utf8' });
  // The flags of --help's option lines: "  -o, --output <FILE>   ...", "  --dir <DIR>   ...".
  const flags = [...help.matchAll(/^ {2}(?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1]);
  assert.ok(flags.length >= 40, `only ${flags.length} flags found in --help:\n${help}`);
  const page = fs.readFileSync(flagsMd, 'utf8');
  const documented = new Set([...page.matchAll(/^\| (?:`-\w`, )?`(--[\w-]+)`/gm)].map((m) => m[1]));
  const missing = flags.filter((flag) => !documented.has(flag));
  assert.deepEqual(missing, [], `flags --help prints that docs/flags.md lacks: ${missing.join(', ')}`);
});
