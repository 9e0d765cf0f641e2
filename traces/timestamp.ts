/**
 * Exact parsing of wall-clock timestamps such as Azure's `2023-11-16 18:15:46.6805900` (2023, no
 * zone) and `2024-05-10 00:00:00.0112140+00:00` (2024, with a UTC offset).
 */

/** A parsed timestamp: whole epoch seconds (UTC) plus nanoseconds in [0, 1e9). */
export interface EpochParts {
  sec: number;
  ns: number;
}

/** Accepted timestamp forms, for error messages. */
export const TIMESTAMP_FORMS = 'YYYY-MM-DD HH:MM:SS[.f to .fffffffff][Z|±HH:MM]';

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/** The `k` decimal digits of `s` from `i` as a number, or -1 if one is not a digit. */
function digits(s: string, i: number, k: number): number {
  let v = 0;
  for (let j = i; j < i + k; j++) {
    const c = s.charCodeAt(j) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

// Date.UTC of the last day seen: consecutive rows nearly always share the day.
let lastDayKey = -1;
let lastDayMs = 0;

/**
 * Parses `YYYY-MM-DD HH:MM:SS[.fraction][zone]` (a `T` may replace the space; the fraction has 1–9
 * digits; the zone is `Z`, `±HH:MM` or `±HHMM`, optionally after spaces; no zone means UTC;
 * surrounding spaces are ignored). The fraction is read as an integer of nanoseconds, never through
 * `Date`'s milliseconds, so 7-digit fractions stay exact. Hand-written (no regex) because it runs
 * once per row. Writes into `out` (no allocation per row).
 * @returns false when the text is not such a timestamp or a field is out of range
 */
export function parseTimestamp(text: string, out: EpochParts): boolean {
  let i = 0;
  let end = text.length;
  while (i < end && text.charCodeAt(i) <= 32) i++;
  while (end > i && text.charCodeAt(end - 1) <= 32) end--;
  if (end - i < 19) return false;
  const s = text;
  const sep = s.charCodeAt(i + 10);
  if (
    s.charCodeAt(i + 4) !== 45 || // -
    s.charCodeAt(i + 7) !== 45 ||
    (sep !== 32 && sep !== 84) || // ' ' or T
    s.charCodeAt(i + 13) !== 58 || // :
    s.charCodeAt(i + 16) !== 58
  ) {
    return false;
  }
  const y = digits(s, i, 4);
  const mo = digits(s, i + 5, 2);
  const d = digits(s, i + 8, 2);
  const h = digits(s, i + 11, 2);
  const mi = digits(s, i + 14, 2);
  const sec = digits(s, i + 17, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) {
    return false;
  }
  let p = i + 19;
  let ns = 0;
  if (p < end && s.charCodeAt(p) === 46) {
    // .fraction
    const f0 = ++p;
    while (p < end && p - f0 < 10) {
      const c = s.charCodeAt(p) - 48;
      if (c < 0 || c > 9) break;
      p++;
    }
    const k = p - f0;
    if (k < 1 || k > 9) return false;
    ns = digits(s, f0, k) * POW10[9 - k];
  }
  while (p < end && s.charCodeAt(p) === 32) p++;
  let offset = 0;
  if (p < end) {
    const z = s.charCodeAt(p);
    if (z === 90 && p + 1 === end) {
      // Z
    } else if (z === 43 || z === 45) {
      // ±HH:MM or ±HHMM
      const rest = end - p - 1;
      const oh = digits(s, p + 1, 2);
      let om: number;
      if (rest === 5 && s.charCodeAt(p + 3) === 58) om = digits(s, p + 4, 2);
      else if (rest === 4) om = digits(s, p + 3, 2);
      else return false;
      if (oh < 0 || oh > 23 || om < 0 || om > 59) return false;
      offset = (z === 45 ? -1 : 1) * (oh * 3600 + om * 60);
    } else {
      return false;
    }
  }
  const dayKey = (y * 100 + mo) * 100 + d;
  if (dayKey !== lastDayKey) {
    const dayMs = Date.UTC(y, mo - 1, d);
    const check = new Date(dayMs);
    if (check.getUTCDate() !== d || check.getUTCFullYear() !== y) return false; // e.g. 2023-02-30
    lastDayKey = dayKey;
    lastDayMs = dayMs;
  }
  out.sec = lastDayMs / 1000 + h * 3600 + mi * 60 + sec - offset;
  out.ns = ns;
  return true;
}
