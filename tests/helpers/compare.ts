/**
 * Small numeric comparison helpers for engine-vs-reference tests.
 */

/** max |a[i] − b[i]|; throws when the lengths differ (a shape mismatch should fail loudly). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const diff = Math.abs(a[i]! - b[i]!);
    if (!(diff <= m)) m = Number.isNaN(diff) ? Infinity : diff;
  }
  return m;
}

/** index of the largest value in row `row` of a [rows, n] array */
export function argmaxRow(a: ArrayLike<number>, row: number, n: number): number {
  let best = 0;
  for (let j = 1; j < n; j++) if (a[row * n + j]! > a[row * n + best]!) best = j;
  return best;
}
