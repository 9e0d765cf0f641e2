/**
 * Sharding of a sweep across machines: shard i of n (0-based) keeps the tasks whose index % n == i.
 * The shard comes from `--shard i/n`, else a Slurm job array (SLURM_ARRAY_TASK_ID, minus
 * SLURM_ARRAY_TASK_MIN, of SLURM_ARRAY_TASK_COUNT), else a Kubernetes Indexed Job
 * (JOB_COMPLETION_INDEX of `--shard-count` or JOB_COMPLETION_COUNT).
 */
import { InputError } from '../../sim/errors.ts';
import { MAX_TASKS } from './limits.ts';

/** Shard `index` of `count` (0 <= index < count). */
export interface Shard {
  index: number;
  count: number;
}

function int(s: string, field: string): number {
  if (!/^\d+$/.test(s.trim())) throw new InputError(`expected a non-negative integer (got '${s}')`, { field });
  return Number(s.trim());
}

function check(index: number, count: number, field: string): Shard {
  if (count < 1) throw new InputError(`shard count must be at least 1 (got ${count})`, { field });
  if (count > MAX_TASKS) throw new InputError(`shard count must be at most ${MAX_TASKS}, the most tasks a grid may have (got ${count})`, { field });
  if (index >= count) throw new InputError(`shard index ${index} must be below the count ${count}`, { field });
  return { index, count };
}

/**
 * Parses `i/n` (0-based i).
 * @throws InputError (field `--shard`) when malformed or i >= n.
 */
export function parseShard(spec: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(spec);
  if (!m) throw new InputError(`expected i/n, e.g. 0/4 (got '${spec}')`, { field: '--shard' });
  return check(Number(m[1]), Number(m[2]), '--shard');
}

/**
 * The shard to run: `--shard` if given, else from a Slurm array or Kubernetes Indexed Job
 * environment, else undefined (all tasks).
 * @param shard the `--shard i/n` flag
 * @param shardCount the `--shard-count n` flag (for JOB_COMPLETION_INDEX)
 * @param env environment variables (default process.env)
 * @throws InputError naming the flag or variable for a malformed or inconsistent value.
 */
export function resolveShard(shard: string | undefined, shardCount: number | undefined, env: Record<string, string | undefined> = process.env): Shard | undefined {
  if (shard !== undefined) return parseShard(shard);
  if (env.SLURM_ARRAY_TASK_ID !== undefined && env.SLURM_ARRAY_TASK_ID !== '') {
    const id = int(env.SLURM_ARRAY_TASK_ID, 'SLURM_ARRAY_TASK_ID');
    const min = env.SLURM_ARRAY_TASK_MIN ? int(env.SLURM_ARRAY_TASK_MIN, 'SLURM_ARRAY_TASK_MIN') : 0;
    if (!env.SLURM_ARRAY_TASK_COUNT) throw new InputError('set with SLURM_ARRAY_TASK_ID but SLURM_ARRAY_TASK_COUNT is missing; give --shard i/n', { field: 'SLURM_ARRAY_TASK_COUNT' });
    return check(id - min, int(env.SLURM_ARRAY_TASK_COUNT, 'SLURM_ARRAY_TASK_COUNT'), 'SLURM_ARRAY_TASK_ID');
  }
  if (env.JOB_COMPLETION_INDEX !== undefined && env.JOB_COMPLETION_INDEX !== '') {
    const index = int(env.JOB_COMPLETION_INDEX, 'JOB_COMPLETION_INDEX');
    const count = shardCount ?? (env.JOB_COMPLETION_COUNT ? int(env.JOB_COMPLETION_COUNT, 'JOB_COMPLETION_COUNT') : undefined);
    if (count === undefined) throw new InputError('JOB_COMPLETION_INDEX is set: give --shard-count N or set JOB_COMPLETION_COUNT (the Job\'s completions)', { field: '--shard-count' });
    return check(index, count, 'JOB_COMPLETION_INDEX');
  }
  if (shardCount !== undefined) throw new InputError('--shard-count needs JOB_COMPLETION_INDEX in the environment (or use --shard i/n)', { field: '--shard-count' });
  return undefined;
}

/** The tasks of shard `shard` (all when undefined): those with index % count == shard.index. */
export function shardTasks<T extends { index: number }>(tasks: readonly T[], shard: Shard | undefined): T[] {
  return shard === undefined ? [...tasks] : tasks.filter((t) => t.index % shard.count === shard.index);
}
