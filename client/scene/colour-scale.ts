/**
 * The one diverging activation colour scale (negative blue → 0 dark → positive orange), used by
 * the neuron shader, the head nodes, the legend and the charts, so every view agrees.
 * `t = sign(a) * sqrt(|a| / range)` maps an activation into [-1, 1]; the square root keeps
 * small activations visible next to GPT-2's few very large ones.
 */
export type Rgb = readonly [number, number, number];

export const negativeColour: Rgb = [0.17, 0.45, 1.0];
export const zeroColour: Rgb = [0.13, 0.14, 0.18];
export const positiveColour: Rgb = [1.0, 0.55, 0.1];

export function scaleParameter(value: number, range: number): number {
  const r = range > 0 ? range : 1;
  const t = Math.sqrt(Math.min(1, Math.abs(value) / r));
  return value < 0 ? -t : t;
}

/** Colour of parameter t ∈ [-1, 1] into out (0..1 floats). */
export function colourAt(t: number, out: [number, number, number] = [0, 0, 0]): [number, number, number] {
  const end = t < 0 ? negativeColour : positiveColour;
  const k = Math.min(1, Math.abs(t));
  for (let c = 0; c < 3; c++) out[c] = zeroColour[c] + (end[c] - zeroColour[c]) * k;
  return out;
}

export function activationCss(value: number, range: number): string {
  const [r, g, b] = colourAt(scaleParameter(value, range));
  return `rgb(${Math.round(r * 255)}, ${Math.round(g * 255)}, ${Math.round(b * 255)})`;
}

const vec3 = (c: Rgb) => `vec3(${c.map((x) => x.toFixed(4)).join(', ')})`;

/** GLSL: `vec3 activationColour(float value, float range)` and `float scaleParameter(...)`. */
export const colourScaleGlsl = /* glsl */ `
float scaleParameter(float value, float range) {
  float t = sqrt(min(1.0, abs(value) / max(range, 1e-6)));
  return value < 0.0 ? -t : t;
}
vec3 activationColour(float t) {
  vec3 end = t < 0.0 ? ${vec3(negativeColour)} : ${vec3(positiveColour)};
  return mix(${vec3(zeroColour)}, end, min(1.0, abs(t)));
}
`;
