/**
 * Top-k selection on typed arrays, without an object per element: a binary min-heap of k
 * indices, so selecting the 40 largest of millions of effects is one linear pass (n log k)
 * with memory O(k). Ties keep the lower index first, as a stable sort would.
 */

/**
 * Indices of the k largest values (sign 1) or the k smallest (sign −1), strictly positive
 * (resp. negative) values only, ordered best first.
 */
export function topIndices(values: ArrayLike<number>, k: number, sign: 1 | -1 = 1, skip?: Uint8Array): Int32Array {
  if (k <= 0) return new Int32Array(0);
  const heap = new Int32Array(k); // heap[0] is the worst kept element
  let size = 0;
  // a is worse than b: smaller signed value, or equal value and higher index.
  const worse = (a: number, b: number) => {
    const va = sign * values[a]!;
    const vb = sign * values[b]!;
    return va < vb || (va === vb && a > b);
  };
  const siftDown = (start: number) => {
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let w = i;
      if (l < size && worse(heap[l]!, heap[w]!)) w = l;
      if (r < size && worse(heap[r]!, heap[w]!)) w = r;
      if (w === i) return;
      const t = heap[i]!; heap[i] = heap[w]!; heap[w] = t;
      i = w;
    }
  };
  for (let i = 0; i < values.length; i++) {
    if (!(sign * values[i]! > 0) || skip?.[i]) continue;
    if (size < k) {
      let c = size++;
      heap[c] = i;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (!worse(heap[c]!, heap[p]!)) break;
        const t = heap[c]!; heap[c] = heap[p]!; heap[p] = t;
        c = p;
      }
    } else if (worse(heap[0]!, i)) {
      heap[0] = i;
      siftDown(0);
    }
  }
  const out = Array.from(heap.subarray(0, size));
  out.sort((a, b) => (worse(a, b) ? 1 : worse(b, a) ? -1 : 0));
  return Int32Array.from(out);
}
