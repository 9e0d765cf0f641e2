/**
 * A sweep's result files, `DIR/tasks/<id>.json`: their content, and the check that a file is a
 * whole, valid result of its task. `sim sweep` re-runs a task whose file fails the check (a run
 * killed mid-write by something other than us, a full disk, a hand edit) and `sim merge` refuses
 * it, so a corrupt file is never counted as done nor merged as a row.
 */
import path from 'node:path';
import type { RunOptions } from '../config.ts';
import type { Summary } from '../../sim/metrics.ts';
import { canonicalJson, taskId } from './tasks.ts';

/** The content of `DIR/tasks/<id>.json`. */
export interface TaskRecord {
  /** Stable task id (file name). */
  id: string;
  /** Project version (package.json) that produced it; part of the id. */
  version: string;
  /** Normalized options, paths relative to the grid file's folder, keys sorted. */
  config: RunOptions;
  /** The run's summary (docs/output.md); only `sim.wall_s` differs between identical runs. */
  summary: Summary;
}

/** A task id: 16 lowercase hex digits. */
export const TASK_ID = /^[0-9a-f]{16}$/;

/** Whether `name` is a result file's name (`<id>.json`). */
export function isResultName(name: string): boolean {
  return name.length === 21 && name.endsWith('.json') && TASK_ID.test(name.slice(0, 16));
}

/** Path of a task's result file. */
export function resultFile(out: string, id: string): string {
  return path.join(out, 'tasks', `${id}.json`);
}

/**
 * A temporary file of an atomic write in a tasks/ folder (sim/files.ts `writeFileAtomic`:
 * `.<name>.tmp-<pid>`, or `<name>.tmp-<pid>` from versions before it): never a result.
 */
export function isTempName(name: string): boolean {
  return /^\.?[0-9a-f]{16}\.json\.tmp-\d+$/.test(name);
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isCount = (x: unknown): boolean => typeof x === 'number' && Number.isInteger(x) && x >= 0;

/**
 * Checks the text of result file `<id>.json`: JSON of an object with this `id`, a `version`, a
 * `config` whose id is this id, and a summary with its request counts and latency blocks.
 * @param expected the canonical JSON of the task's `{config, version}` when the task is known
 *   (a resumed sweep): the file's must equal it
 * @returns the record, or a one-line reason why the file is not a valid result
 */
export function checkRecord(text: string, id: string, expected?: string): { record: TaskRecord } | { problem: string } {
  if (text.trim() === '') return { problem: 'empty file' };
  let r: unknown;
  try {
    r = JSON.parse(text);
  } catch (e) {
    return { problem: `not valid JSON (${(e as Error).message.split('\n')[0]}), e.g. cut short` };
  }
  if (!isObj(r)) return { problem: 'not a JSON object' };
  if (r.id !== id) return { problem: `its id ${JSON.stringify(r.id)} is not its file name's ${id}` };
  if (typeof r.version !== 'string' || r.version === '') return { problem: 'no version' };
  if (!isObj(r.config) || typeof r.config.policy !== 'string') return { problem: 'no config' };
  const canonical = canonicalJson({ config: r.config, version: r.version });
  if (expected !== undefined ? canonical !== expected : taskId(r.config as unknown as RunOptions, r.version) !== id) {
    return { problem: "its config and version are not its task's (they hash to another id)" };
  }
  const s = r.summary;
  if (!isObj(s)) return { problem: 'no summary' };
  if (!isObj(s.requests) || !isCount(s.requests.total) || !isCount(s.requests.completed) || !isCount(s.requests.rejected)) return { problem: 'summary without its request counts' };
  for (const k of ['ttft_s', 'e2e_s', 'throughput', 'sim']) if (!isObj(s[k])) return { problem: `summary without ${k}` };
  return { record: r as unknown as TaskRecord };
}
