/**
 * Public API of the trace layer: reading trace files, transforming them, and generating synthetic
 * traces. See docs/traces.md.
 */
export type { Trace, TraceFormat } from '../sim/trace.ts';
export { TRACE_FORMATS } from '../sim/trace.ts';
export { readTrace, KNOWN_FORMATS, type ReadOptions } from './read.ts';
export {
  openTraceSource,
  STDIN_NAME,
  MAX_LINE_CHARS,
  MAX_BUFFERED_BYTES,
  type TraceSource,
  type SourceOptions,
} from './source.ts';
export { MAX_SPAN_S, MAX_SPAN_TEXT, MAX_TOKENS } from './fields.ts';
export { transformTrace, tileTrace, type TraceTransform } from './transform.ts';
export {
  syntheticTrace,
  type SyntheticSpec,
  DEFAULT_PROMPT_DIST,
  DEFAULT_OUTPUT_DIST,
  DEFAULT_GAMMA_CV,
} from './synthetic.ts';
export { parseLengthDistribution, DIST_FORMS, type LengthSampler, type UniformSource } from './distributions.ts';
export { meanRate, interArrivalCv, prefixReuse, prefixReuseCounts, type PrefixReuse } from './stats.ts';
export { AZURE_COLUMNS } from './azure.ts';
export { BURSTGPT_COLUMNS } from './burstgpt.ts';
export { GENERIC_COLUMNS } from './generic.ts';
export { VIDUR_COLUMNS } from './vidur.ts';
export {
  readPrograms,
  parseProgramCall,
  buildProgramTrace,
  formatProgramJsonl,
  traceToProgramCalls,
  detectJsonlKind,
  jsonlKindOf,
  type ProgramCall,
  type JsonlKind,
} from './programs.ts';
export { readTraceLab, TRACELAB_INPUT_EVENTS } from './tracelab.ts';
export { readLlmServingSimJsonl, readLlmServingSimTsv, LLMSERVINGSIM_TSV_COLUMNS } from './llmservingsim.ts';
export { readShareGpt, SHAREGPT_MODES, SHAREGPT_ASSISTANT_ROLES, VLLM_SHAREGPT_LIMITS, type ShareGptMode, type ShareGptOptions } from './sharegpt.ts';
export {
  generatePrograms,
  generateProgramTrace,
  describeSpec,
  lognormalWithMean,
  PROGRAM_KINDS,
  KIND_DEFAULTS,
  type ProgramKind,
  type GeneratorSpec,
  type KindOption,
} from './generators.ts';
export { resampleTrace } from './resample.ts';
export { tracePriorities, randomPriorities, PRIORITY_COLUMN } from './priority.ts';
