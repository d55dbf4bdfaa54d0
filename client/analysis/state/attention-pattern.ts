/**
 * One attention head's pattern over the run's prompt, assembled from the activation frames'
 * attention rows (each frame carries its query position's row for every head: see
 * shared/frame-codec.ts), and the two scores that say what the head does:
 * - previous-token score: mean weight a query puts on the key just before it (q − 1);
 * - induction score: over queries whose token occurred earlier, mean weight on the key right
 *   after that earlier occurrence (the latest one) — an induction head copies what came next.
 * Pure: rows in, numbers out.
 */
export interface HeadPattern {
  /** Queries with a row (0..T-1, stopping at the first missing frame). */
  size: number;
  /** [size * size] weights, row q = query, column k = key (0 above the diagonal). */
  weights: Float32Array;
}

export function assemblePattern(rowOf: (query: number) => Float32Array | undefined, positions: number): HeadPattern {
  let size = 0;
  while (size < positions && rowOf(size)) size++;
  const weights = new Float32Array(size * size);
  for (let q = 0; q < size; q++) weights.set(rowOf(q)!.subarray(0, q + 1), q * size);
  return { size, weights };
}

export function previousTokenScore(pattern: HeadPattern): number | null {
  const { size, weights } = pattern;
  if (size < 2) return null;
  let sum = 0;
  for (let q = 1; q < size; q++) sum += weights[q * size + q - 1]!;
  return sum / (size - 1);
}

export function inductionScore(pattern: HeadPattern, tokenIds: readonly number[]): number | null {
  const { size, weights } = pattern;
  let sum = 0;
  let count = 0;
  const lastSeen = new Map<number, number>();
  for (let q = 0; q < size; q++) {
    const token = tokenIds[q];
    if (token === undefined) break;
    const earlier = lastSeen.get(token);
    if (earlier !== undefined && earlier + 1 < q) {
      sum += weights[q * size + earlier + 1]!;
      count++;
    }
    lastSeen.set(token, q);
  }
  return count > 0 ? sum / count : null;
}
