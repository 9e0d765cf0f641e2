/**
 * The limits of `sim sweep`, apart from the modules that use them so that the command's option
 * list (which names them) loads without the sweep runner.
 */

/**
 * Grids with more tasks than this are refused by `sim sweep` unless `--yes` is given: a grid this
 * large is more often a mistake (one axis too many) than intended, and running it takes hours.
 */
export const CONFIRM_TASKS = 10_000;

/**
 * The most tasks one grid may have, even with `--yes`: each task leaves a result file of about
 * 4 KB in one folder (4 GB and a million-entry folder at this size) and its id is held in memory
 * to drop duplicates. Split a larger study into several grids (or shards of one).
 */
export const MAX_TASKS = 1_000_000;

/** Most worker threads `--workers` may ask for. */
export const MAX_WORKERS = 256;
