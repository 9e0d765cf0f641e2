/**
 * Number formats of docs/reproductions.md: fixed significant digits (so the document is the same
 * text on every platform that computes the same doubles) and signed percentage changes.
 */

/** A value with 3 significant digits (4 from 1,000 up, integers from 10,000), e.g. 0.0123, 4.56, 78.9, 1234. */
export function num(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 10_000) return x.toFixed(0);
  if (a >= 1000) return x.toPrecision(4);
  if (a === 0) return '0';
  return x.toPrecision(3);
}

/** The change of `x` against `base` in percent, signed and rounded to a whole percent: `−25%`, `+3%`. */
export function pct(x: number, base: number): string {
  const p = Math.round(100 * (x / base - 1));
  return p < 0 ? `−${-p}%` : `+${p}%`;
}

/** A factor with two decimals and a times sign: `2.09×`. */
export function times(f: number): string {
  return `${f.toFixed(2)}×`;
}
