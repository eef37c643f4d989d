// The outputs espcap has, and the one place that picks the module for an
// output: the flags choose (cli/args.ts), the run prepares it, and each
// dissecting process opens its sink from the spec it is given.
import type { ElasticsearchChoice, ElasticsearchSpec } from './elasticsearch';
import type { OutputModule, PreparedOutput, RunShape } from './output';
import type { PacketSink } from '../sink';
import type { TextSpec } from './text-output';

/** Where the documents go, as the flags say. */
export type OutputChoice = TextSpec | ElasticsearchChoice;
/** What a dissecting process is told of its output. */
export type OutputSpec = TextSpec | ElasticsearchSpec;

/** Each module takes only its own choice and spec; moduleFor() is only ever given those. */
type AnyOutput = OutputModule<OutputChoice, OutputSpec>;

// Loaded when used: printing packets needs no Elasticsearch client.
const modules: Record<OutputChoice['format'], () => Promise<AnyOutput>> = {
  dump: async () => (await import('./dump')).dumpOutput as AnyOutput,
  ndjson: async () => (await import('./ndjson')).ndjsonOutput as AnyOutput,
  elasticsearch: async () => (await import('./elasticsearch')).elasticsearchOutput as AnyOutput,
};

function moduleFor(format: OutputChoice['format']): Promise<AnyOutput> {
  return modules[format]();
}

export async function prepareOutput(choice: OutputChoice, run: RunShape): Promise<PreparedOutput<OutputSpec>> {
  return (await moduleFor(choice.format)).prepare(choice, run);
}

export async function openSink(spec: OutputSpec): Promise<PacketSink> {
  return (await moduleFor(spec.format)).openSink(spec);
}
