#!/usr/bin/env node
// Writes docs/flags.md from the flags' one definition (src/cli/args.ts), as
// src/cli/flag-reference.ts renders it. Run `npm run docs:flags` after
// changing a flag: it compiles first, and a unit test fails while the file
// and the definition differ.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const { flagReference } = require(path.join(root, 'dist', 'src', 'cli', 'flag-reference.js'));
const target = path.join(root, 'docs', 'flags.md');
fs.mkdirSync(path.dirname(target), { recursive: true });
fs.writeFileSync(target, flagReference());
console.log(`wrote ${path.relative(root, target)}`);
