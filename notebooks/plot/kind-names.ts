/**
 * The names of the figure kinds of `sim plot`, apart from the drawing code (./kinds.ts), so that
 * the command's options can list them without loading the plotting stack (jsdom, Plot, resvg).
 */

/** The figure kinds (each drawn by ./kinds.ts; inputs in docs/plots.md). */
export const KINDS = ['cdf', 'rate', 'ttft-tpot', 'timeseries'] as const;
/** One figure kind. */
export type Kind = (typeof KINDS)[number];
