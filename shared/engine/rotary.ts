/**
 * Rotary position tables fed to the graphs: for each position, cos and sin of each pair's
 * angle pos · θ^(−2i/dh), repeated over both halves (rotate_half pairing, i with i + dh/2).
 */
export function rotaryTables(positions: number[][], dHead: number, theta: number): { cos: Float32Array; sin: Float32Array } {
  const half = dHead / 2;
  const T = positions[0]?.length ?? 0;
  const cos = new Float32Array(positions.length * T * dHead);
  const sin = new Float32Array(positions.length * T * dHead);
  positions.forEach((row, b) => row.forEach((p, t) => {
    const base = (b * T + t) * dHead;
    for (let i = 0; i < half; i++) {
      const angle = p * Math.pow(theta, (-2 * i) / dHead);
      cos[base + i] = cos[base + i + half] = Math.cos(angle);
      sin[base + i] = sin[base + i + half] = Math.sin(angle);
    }
  }));
  return { cos, sin };
}
