// docs/flags.md, made from the one definition of the flags (args.ts): the
// same flags, help, defaults and groups that --help prints, as Markdown.
// `npm run docs:flags` writes it (scripts/flag-reference.js), and a unit test
// fails when the file and this differ.
import { Command, Option } from 'commander';
import { commandLine } from './args';

/** What --help does not say, about every flag alike. */
const GENERAL_NOTES = [
  'Both `--flag value` and `--flag=value` work. The environment variables',
  '`ESPCAP_API_KEY` (the default of `--api-key`) and `ESPCAP_PASSWORD` (for',
  '`--username`) are read, and never printed. Exit codes: 0 success, 1 a capture',
  'or the output failed (every good packet before the fault is still written), 2 a',
  'wrong command line. Errors are one line on stderr, naming the file and the',
  'problem.',
];

/** The flag reference as Markdown, grouped as --help groups the flags. */
export function flagReference(program: Command = commandLine()): string {
  const help = program.createHelp();
  const visible = help.visibleOptions(program);
  const groups = help.groupItems(program.options as Option[], visible, (option) => option.helpGroupHeading ?? 'Options:');
  const hidden = program.options.filter((option) => option.hidden);

  const lines = [
    '# Flags',
    '',
    '<!-- Generated from src/cli/args.ts by `npm run docs:flags`: edit the flags there, not this file. -->',
    '',
    `\`espcap ${program.usage()}\``,
    '',
    program.description(),
    '',
    ...GENERAL_NOTES,
    '',
    'The flags as `espcap --help` groups them, each with its default and its range.',
  ];
  for (const [heading, options] of groups) {
    if (options.length === 0) continue;
    lines.push('', `## ${heading.replace(/:$/, '')}`, '', ...table(options));
  }
  if (hidden.length > 0) {
    lines.push(
      '',
      '## Not shown by --help',
      '',
      'Accepted, but left out of `--help`: other spellings of the flags above, and',
      'flags that the tests and benchmarks use (not meant for ordinary runs).',
      '',
      ...table(hidden),
    );
  }
  return lines.join('\n') + '\n';
}

function table(options: Option[]): string[] {
  return ['| flag | argument | meaning | default |', '|---|---|---|---|', ...options.map(row)];
}

function row(option: Option): string {
  const [names, argument] = splitFlags(option.flags);
  // --help's own "this text" means the terminal's help; here it is this page.
  const meaning = option.long === '--help' ? 'the flags, grouped as on this page, with their defaults' : option.description;
  const cells = [names.map((name) => `\`${name}\``).join(', '), argument ? `\`${argument}\`` : '', markdown(meaning), defaultOf(option)];
  return `| ${cells.map((cell) => cell.replace(/\|/g, '\\|')).join(' | ')} |`;
}

/** "-o, --output <FILE>" as its names ("-o", "--output") and its argument ("FILE"). */
function splitFlags(flags: string): [string[], string] {
  const [, names, argument] = /^(.*?)(?:\s+([<[].*))?$/.exec(flags.trim())!;
  return [names.split(/[\s,|]+/).filter(Boolean), (argument ?? '').replace(/^<(.*)>$/, '$1')];
}

/** The default as --help shows it (commander's rule: for flags with a value, and true/false switches). */
function defaultOf(option: Option): string {
  const parts: string[] = [];
  const shown = option.required || option.optional || (option.isBoolean() && typeof option.defaultValue === 'boolean');
  if (option.defaultValue !== undefined && shown) parts.push(markdown(option.defaultValueDescription || JSON.stringify(option.defaultValue)));
  if (option.envVar !== undefined) parts.push(`the environment variable \`${option.envVar}\``);
  return parts.join('; ');
}

/** espcap's flag names in running text as code (not other programs' short flags: tshark -M). */
function markdown(text: string): string {
  return text.replace(/(^|[\s(])(--[a-zA-Z][\w-]*)/g, '$1`$2`');
}
