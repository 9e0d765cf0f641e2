/**
 * Interpolation of measured operator times over a grid (1-D and 2-D), the rule every profile cost
 * model uses. See docs/calibration.md §3.
 *
 * Rule (1-D, grid xs strictly increasing, at least 2 points, values ys >= 0):
 * - on a grid point: the measured value, exactly;
 * - between two grid points: piecewise linear. Piecewise-linear interpolation is monotone: the
 *   value lies between the two neighbours, so it never overshoots the data (no spline ringing);
 * - beyond the last point: the last segment extended, its slope clamped to >= 0
 *   (y = y[n-1] + max(0, slope) · (x − x[n-1])), so time never falls as the size grows;
 * - below the first point: the first segment extended the same way, floored at 0.
 *
 * 2-D (bilinear): interpolate along the second axis in the two rows that bracket the first
 * coordinate, then along the first axis between them, each step with the 1-D rule. Inside the
 * grid this is exactly bilinear interpolation. A row may end early (a ragged table: measured only
 * at the first n_i points of the second axis, e.g. prefill attention only where prefix + chunk
 * fits the model's context): the 1-D rule then runs on that row's own points, extending its last
 * measured segment beyond them.
 *
 * No allocation per call; never NaN (a NaN coordinate is treated as the first grid point).
 */

/** Where the last query fell: 0 inside the grid (ends included), -1 below it, +1 beyond it. */
export type GridSide = -1 | 0 | 1;

/**
 * Finds the segment index i (0 <= i <= n-2) with xs[i] <= x <= xs[i+1], or the end segment for
 * x outside the grid, over the first n points of xs (default all). Binary search; xs strictly
 * increasing, n >= 2.
 */
function segment(xs: ArrayLike<number>, x: number, n: number = xs.length): number {
  let lo = 0;
  let hi = n - 2;
  if (x <= xs[0]) return 0;
  if (x >= xs[hi]) return hi;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (xs[mid] <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * The 1-D rule on one segment: value at x of the line through (x0, y0), (x1, y1), with the
 * extension beyond either end clamped as described in the module docs.
 */
function onSegment(x0: number, y0: number, x1: number, y1: number, x: number, first: boolean, last: boolean): number {
  const slope = (y1 - y0) / (x1 - x0);
  // NaN only from infinite values (Infinity − Infinity): an infinite neighbour makes the value infinite.
  if (Number.isNaN(slope)) return Math.max(y0, y1);
  if (x > x1 && last) return slope > 0 ? y1 + slope * (x - x1) : y1;
  if (x < x0 && first) return slope > 0 ? Math.max(0, y0 - slope * (x0 - x)) : y0;
  if (x === x1) return y1;
  return y0 + slope * (x - x0);
}

/**
 * Piecewise-linear interpolation of `ys` over the grid `xs` (seconds over a size axis, e.g.
 * tokens), with the clamped linear extrapolation of the module docs. `side` tells where the last
 * query fell, so that a caller can warn once about extrapolation.
 */
export class GridInterpolator1D {
  /** Grid, strictly increasing, length >= 2. */
  readonly xs: Float64Array;
  /** Values at the grid points (>= 0). */
  readonly ys: Float64Array;
  /** Where the last {@link at} query fell. */
  side: GridSide = 0;

  /**
   * @throws RangeError when the grid has fewer than 2 points, is not strictly increasing, or the
   *   lengths differ (profiles are validated before this; see profile.ts).
   */
  constructor(xs: ArrayLike<number>, ys: ArrayLike<number>) {
    checkGrid(xs);
    if (ys.length !== xs.length) throw new RangeError(`grid has ${xs.length} points but ${ys.length} values`);
    this.xs = Float64Array.from(xs);
    this.ys = Float64Array.from(ys);
  }

  /** Interpolated value at x (same units as ys); finite for finite x, >= 0. */
  at(x: number): number {
    const xs = this.xs;
    const n = xs.length;
    if (Number.isNaN(x)) x = xs[0];
    this.side = x < xs[0] ? -1 : x > xs[n - 1] ? 1 : 0;
    const i = segment(xs, x);
    return onSegment(xs[i], this.ys[i], xs[i + 1], this.ys[i + 1], x, i === 0, i === n - 2);
  }
}

/**
 * Bilinear interpolation of a 2-D table `z[i][j]` over grids `xs` (first axis, e.g. decode batch)
 * and `ys` (second axis, e.g. context length), with the clamped linear extrapolation of the
 * module docs along each axis. Row i may be shorter than ys (measured at ys[0 .. n_i − 1] only,
 * n_i >= 2): it is interpolated over its own points. `sideX`/`sideY` tell where the last query
 * fell: along the second axis relative to the measured points of whichever bracketing row reaches
 * further.
 */
export class GridInterpolator2D {
  readonly xs: Float64Array;
  readonly ys: Float64Array;
  /** Row-major values: z[i * ys.length + j] (0 beyond a row's length). */
  readonly z: Float64Array;
  /** Measured points of each row (ys.length for a full table). */
  readonly rowLength: Int32Array;
  /** Where the last query fell along the first axis. */
  sideX: GridSide = 0;
  /** Where the last query fell along the second axis. */
  sideY: GridSide = 0;

  /**
   * @throws RangeError for a grid of fewer than 2 points per axis, a grid that is not strictly
   *   increasing, or a table of other than xs.length rows, each of 2 to ys.length values.
   */
  constructor(xs: ArrayLike<number>, ys: ArrayLike<number>, z: ArrayLike<ArrayLike<number>>) {
    checkGrid(xs);
    checkGrid(ys);
    if (z.length !== xs.length) throw new RangeError(`table has ${z.length} rows, grid ${xs.length}`);
    this.xs = Float64Array.from(xs);
    this.ys = Float64Array.from(ys);
    this.z = new Float64Array(xs.length * ys.length);
    this.rowLength = new Int32Array(xs.length);
    for (let i = 0; i < xs.length; i++) {
      const row = z[i];
      if (row.length < 2 || row.length > ys.length) throw new RangeError(`table row ${i} has ${row.length} values, grid ${ys.length} (a row needs 2 to ${ys.length})`);
      this.rowLength[i] = row.length;
      for (let j = 0; j < row.length; j++) this.z[i * ys.length + j] = row[j];
    }
  }

  /** Interpolated value at (x, y); finite for finite input, >= 0. */
  at(x: number, y: number): number {
    const xs = this.xs;
    const nx = xs.length;
    if (Number.isNaN(x)) x = xs[0];
    if (Number.isNaN(y)) y = this.ys[0];
    this.sideX = x < xs[0] ? -1 : x > xs[nx - 1] ? 1 : 0;
    const i = segment(xs, x);
    const a = this.along(i, y);
    const b = this.along(i + 1, y);
    const reach = this.ys[Math.max(this.rowLength[i], this.rowLength[i + 1]) - 1];
    this.sideY = y < this.ys[0] ? -1 : y > reach ? 1 : 0;
    return onSegment(xs[i], a, xs[i + 1], b, x, i === 0, i === nx - 2);
  }

  /** The 1-D rule along the second axis on row i's measured points. */
  private along(i: number, y: number): number {
    const ys = this.ys;
    const n = this.rowLength[i];
    const o = i * ys.length;
    const j = segment(ys, y, n);
    return onSegment(ys[j], this.z[o + j], ys[j + 1], this.z[o + j + 1], y, j === 0, j === n - 2);
  }

  /** Whether the last query was outside the grid along either axis. */
  get outside(): boolean {
    return this.sideX !== 0 || this.sideY !== 0;
  }
}

function checkGrid(xs: ArrayLike<number>): void {
  if (xs.length < 2) throw new RangeError(`a grid needs at least 2 points, got ${xs.length}`);
  for (let i = 0; i < xs.length; i++) {
    if (!Number.isFinite(xs[i])) throw new RangeError(`grid point ${i} is not finite`);
    if (i > 0 && !(xs[i] > xs[i - 1])) throw new RangeError(`grid is not strictly increasing at point ${i}`);
  }
}
