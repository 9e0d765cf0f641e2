/**
 * The standard normal distribution: CDF Φ and quantile Φ⁻¹, written here because none of the
 * installed libraries (d3-array, d3-random, seedrandom) has them.
 */

/** 1/sqrt(2π). */
const INV_SQRT_2PI = 0.3989422804014327;

/** The standard normal density φ(x) = exp(−x²/2)/sqrt(2π). */
export function normalPdf(x: number): number {
  return INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}

/**
 * The standard normal CDF Φ(x), absolute error below 1e-15 (relative error below 1e-13 in the
 * tails). For |x| < 3: the series Φ(x) = 1/2 + φ(x)·Σ_{k≥0} x^{2k+1}/(1·3·…·(2k+1))
 * (Abramowitz & Stegun 26.2.11); beyond: the Laplace continued fraction of the Mills ratio,
 * 1 − Φ(x) = φ(x)/(x + 1/(x + 2/(x + 3/(x + …)))) (A&S 26.2.14), evaluated by Lentz's method.
 * Φ(±Infinity) = 1 or 0; Φ(NaN) = NaN.
 */
export function normalCdf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  if (a < 3) {
    let term = x;
    let sum = x;
    const x2 = x * x;
    for (let k = 1; k < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); k++) {
      term *= x2 / (2 * k + 1);
      sum += term;
    }
    return 0.5 + normalPdf(x) * sum;
  }
  if (a > 40) return x > 0 ? 1 : 0;
  const tail = normalPdf(a) * millsRatio(a);
  return x > 0 ? 1 - tail : tail;
}

/** Mills ratio (1 − Φ(a))/φ(a) for a >= 3, by Lentz's method on the Laplace continued fraction. */
function millsRatio(a: number): number {
  // R(a) = 1/(a + 1/(a + 2/(a + 3/(a + …)))): b0 = 0, a1 = 1, b_k = a, a_{k+1} = k.
  const tiny = 1e-300;
  let f = tiny;
  let c = f;
  let d = 0;
  for (let k = 1; k < 500; k++) {
    const num = k === 1 ? 1 : k - 1;
    d = a + num * d;
    if (d === 0) d = tiny;
    c = a + num / c;
    if (c === 0) c = tiny;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return f;
}

// Wichura, "Algorithm AS 241: The percentage points of the normal distribution", Applied
// Statistics 37(3), 1988: rational approximations with relative accuracy about 1e-16.
const A = [
  3.387132872796366608, 133.14166789178437745, 1971.5909503065514427, 13731.693765509461125,
  45921.953931549871457, 67265.770927008700853, 33430.575583588128105, 2509.0809287301226727,
];
const B = [
  1, 42.313330701600911252, 687.1870074920579083, 5394.1960214247511077, 21213.794301586595867,
  39307.89580009271061, 28729.085735721942674, 5226.495278852854561,
];
const C = [
  1.42343711074968357734, 4.6303378461565452959, 5.7694972214606914055, 3.64784832476320460504,
  1.27045825245236838258, 0.24178072517745061177, 0.0227238449892691845833, 7.7454501427834140764e-4,
];
const D = [
  1, 2.05319162663775882187, 1.6763848301838038494, 0.68976733498510000455, 0.14810397642748007459,
  0.0151986665636164571966, 5.475938084995344946e-4, 1.05075007164441684324e-9,
];
const E = [
  6.6579046435011037772, 5.4637849111641143699, 1.7848265399172913358, 0.29656057182850489123,
  0.026532189526576123093, 0.0012426609473880784386, 2.71155556874348757815e-5, 2.01033439929228813265e-7,
];
const F = [
  1, 0.59983220655588793769, 0.13692988092273580531, 0.0148753612908506148525, 7.868691311456132591e-4,
  1.8463183175100546818e-5, 1.4215117583164458887e-7, 2.04426310338993978564e-15,
];

/** Evaluates the polynomial with coefficients `c` (lowest degree first) at r (Horner). */
function poly(c: readonly number[], r: number): number {
  let s = 0;
  for (let i = c.length - 1; i >= 0; i--) s = s * r + c[i];
  return s;
}

/**
 * The standard normal quantile Φ⁻¹(p) for p in (0, 1), by Wichura's algorithm AS 241 (PPND16;
 * relative accuracy about 1e-16). Φ⁻¹(0) = −Infinity, Φ⁻¹(1) = Infinity.
 * @throws RangeError for p outside [0, 1] or NaN.
 */
export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`normalQuantile: p must be in [0, 1], got ${p}`);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q;
    return (q * poly(A, r)) / poly(B, r);
  }
  let r = Math.sqrt(-Math.log(q < 0 ? p : 1 - p));
  let z: number;
  if (r <= 5) {
    r -= 1.6;
    z = poly(C, r) / poly(D, r);
  } else {
    r -= 5;
    z = poly(E, r) / poly(F, r);
  }
  return q < 0 ? -z : z;
}

/**
 * A standard normal variate from one call of a uniform source in [0, 1), by inversion
 * (Φ⁻¹ of the uniform, kept inside [2^-53, 1 − 2^-53] so the result is finite, |value| < 8.3).
 */
export function normalDeviate(rng: () => number): number {
  const u = rng();
  return normalQuantile(Math.min(Math.max(u, 2 ** -53), 1 - 2 ** -53));
}
