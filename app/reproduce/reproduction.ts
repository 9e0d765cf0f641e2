/**
 * What a reproduction is (one seed paper's headline, rerun in the paper's own setting) and what
 * it produces: the section of docs/reproductions.md that `sim reproduce` writes (app/reproduce/doc.ts
 * renders it). Each paper is one file in app/reproduce/, listed in app/reproduce/index.ts.
 */
import type { Trace } from '../../sim/trace.ts';
import type { FactorRange, Verdict } from './verdict.ts';

/** Where a reproduction runs: the shared data folder, and a sink for progress lines (stderr). */
export interface ReproduceContext {
  /** The shared data folder (reference predictions, traces), absolute. */
  shared: string;
  /** Progress messages, one line each (not part of the document). */
  log: (message: string) => void;
}

/** One claim checked: the paper's improvement factor against ours, with the verdict. */
export interface ClaimResult {
  /** What is compared, e.g. `mean JCT, SSJF vs FCFS, batch 1`. */
  what: string;
  /** The paper's figure as the paper states it, e.g. `−30.5 to −39.6%`. */
  paperText: string;
  /** The paper's improvement factor(s) (app/reproduce/verdict.ts). */
  paper: FactorRange;
  /** Our result as measured, e.g. `8.41 s vs 11.2 s (−25%)`. */
  oursText: string;
  /** Our improvement factor. */
  ours: number;
  verdict: Verdict;
}

/** The settings compared side by side: the paper's and this project's. */
export interface Setting {
  model: string;
  gpu: string;
  engine: string;
  workload: string;
  rate: string;
  metric: string;
}

/** A markdown table: a title line, a header and rows of cells. */
export interface Table {
  title: string;
  header: string[];
  rows: string[][];
}

/** One reproduction's outcome: everything its section of docs/reproductions.md shows. */
export interface ReproductionResult {
  /** The paper's claim in one or two sentences, with where it is stated. */
  claim: string;
  paper: Setting;
  ours: Setting;
  /** Where this project's run departs from the paper's scale or setting, and why. */
  deviations: string[];
  claims: ClaimResult[];
  /** Detail tables (per rate, per policy…). */
  tables: Table[];
  /** Free-text notes: how a figure was computed, what disagrees and its cause. */
  notes: string[];
}

/** A registered reproduction. */
export interface Reproduction {
  /** CLI name (`sim reproduce NAME`), lower case: `ssjf`, `trail`… */
  name: string;
  /** Section title: policy, authors, arXiv id. */
  title: string;
  /** The exact command that regenerates the section. */
  command: string;
  /**
   * Reads and checks the shared data the reproduction needs, so that bad or missing data is
   * reported before anything runs. Absent when it needs none.
   * @throws InputError naming the file (and line, field).
   */
  check?(ctx: ReproduceContext): void;
  /**
   * Runs the reproduction. Deterministic: the same code and data give the same result.
   * @throws InputError when the shared data it needs is missing or malformed.
   */
  run(ctx: ReproduceContext): Promise<ReproductionResult>;
  /**
   * The request traces the reproduction replays, by file name (`sim reproduce NAME --export DIR`
   * writes them as generic CSV; the regression set replays some). Absent for workloads that are
   * run options alone or programs.
   * @throws InputError when the shared data they need is missing or malformed.
   */
  workloads?(ctx: ReproduceContext): { file: string; trace: Trace }[];
}
