/**
 * Comparisons of two engines' answers to the same requests (tests/e2e/engine-parity.test.ts): each
 * returns the largest difference it saw and throws, in words naming what differed, past the
 * tolerance. Frames are compared as the protocol carries them (frame-codec.ts: int8 neurons with a
 * float32 per-layer scale, uint8 attention): equal scales within `tol` relative, and quantised
 * values at most one step apart (two engines a few 1e-6 apart can round to neighbouring steps).
 */
import { decodeFrame } from '../../shared/frame-codec.js';
import type { Prediction, TokenInfo } from '../../shared/protocol.js';
import type { DriverEffects, DriverGraph } from './engine-driver.js';

/** The largest differences seen, by measure (for the notes and the test's log). */
export class Differences {
  readonly max = new Map<string, number>();
  readonly counts = new Map<string, number>();

  note(measure: string, value: number): void {
    this.max.set(measure, Math.max(this.max.get(measure) ?? 0, value));
  }

  count(measure: string, n: number): void {
    this.counts.set(measure, (this.counts.get(measure) ?? 0) + n);
  }

  /** One line per measure. */
  lines(): string[] {
    return [
      ...[...this.max].map(([measure, value]) => `${measure}: max ${value.toExponential(2)}`),
      ...[...this.counts].map(([measure, n]) => `${measure}: ${n}`),
    ];
  }
}

function fail(what: string, detail: string): never {
  throw new Error(`${what}: ${detail}`);
}

export function sameTokens(what: string, a: TokenInfo[], b: TokenInfo[]): void {
  const ids = (t: TokenInfo[]) => t.map((x) => x.id).join(',');
  if (ids(a) !== ids(b)) fail(what, `tokens differ: [${ids(a)}] vs [${ids(b)}]`);
}

/**
 * Top-k predictions: the same ids in the same order (a swap only between logits within `tol`),
 * every common id's logit within `tol`, its probability within `tol`, and the log of the softmax
 * normaliser (logit − ln prob, a sum over the whole vocabulary) within `tol`.
 */
export function comparePredictions(what: string, a: Prediction[], b: Prediction[], tol: number, d: Differences): void {
  if (a.length !== b.length) fail(what, `${a.length} vs ${b.length} predictions`);
  const byId = new Map(b.map((p) => [p.id, p]));
  for (let i = 0; i < a.length; i++) {
    const pa = a[i]!, pb = b[i]!;
    if (pa.id !== pb.id && Math.abs(pa.logit - pb.logit) > tol) fail(what, `prediction ${i} is ${pa.id} (${pa.logit}) vs ${pb.id} (${pb.logit})`);
    if (pa.id !== pb.id) d.count('prediction order swaps between logits within tolerance', 1);
    const other = byId.get(pa.id);
    if (!other) continue; // the last places of a near tie
    const dl = Math.abs(pa.logit - other.logit);
    const dp = Math.abs(pa.prob - other.prob);
    const dz = Math.abs((pa.logit - Math.log(pa.prob)) - (other.logit - Math.log(other.prob)));
    d.note('logit', dl);
    d.note('probability', dp);
    d.note('log softmax normaliser (whole vocabulary)', dz);
    if (dl > tol) fail(what, `logit of token ${pa.id} (${JSON.stringify(pa.text)}): ${pa.logit} vs ${other.logit} (|Δ| ${dl.toExponential(2)} > ${tol})`);
    if (dp > tol) fail(what, `probability of token ${pa.id}: ${pa.prob} vs ${other.prob}`);
    if (dz > tol) fail(what, `log softmax normaliser at token ${pa.id}: ${pa.logit - Math.log(pa.prob)} vs ${other.logit - Math.log(other.prob)}`);
  }
}

/** Two base64 frames of the same position: header equal, scales within `tol` relative, steps ≤ 1 apart. */
export function compareFrames(what: string, a: string, b: string, tol: number, d: Differences): void {
  const fa = decodeFrame(Buffer.from(a, 'base64'));
  const fb = decodeFrame(Buffer.from(b, 'base64'));
  for (const key of ['position', 'tokenId', 'nLayers', 'neuronsPerLayer', 'nHeads'] as const) {
    if (fa[key] !== fb[key]) fail(what, `frame ${key} ${fa[key]} vs ${fb[key]}`);
  }
  const N = fa.neuronsPerLayer;
  for (let l = 0; l < fa.nLayers; l++) {
    const sa = fa.scales[l]!, sb = fb.scales[l]!;
    const rel = Math.abs(sa - sb) / Math.max(sa, sb);
    d.note('frame neuron scale (max |activation| of a layer), relative', rel);
    if (rel > tol) fail(what, `position ${fa.position} layer ${l}: max |activation| ${sa * 127} vs ${sb * 127}`);
    let dequantised = 0;
    for (let i = 0; i < N; i++) {
      const qa = fa.neurons[l * N + i]!, qb = fb.neurons[l * N + i]!;
      if (qa === qb) continue;
      d.count('frame neuron values one int8 step apart', 1);
      if (Math.abs(qa - qb) > 1) fail(what, `position ${fa.position} neuron ${l}:${i}: ${qa * sa} vs ${qb * sb} (int8 ${qa} vs ${qb})`);
      dequantised = Math.max(dequantised, Math.abs(qa * sa - qb * sb) / sa);
    }
    d.note('frame neuron values, in int8 steps', dequantised);
  }
  d.count('frame neuron values compared', fa.neurons.length);
  if (fa.attention.length !== fb.attention.length) fail(what, `attention ${fa.attention.length} vs ${fb.attention.length} weights`);
  for (let k = 0; k < fa.attention.length; k++) {
    const steps = Math.round(Math.abs(fa.attention[k]! - fb.attention[k]!) * 255);
    if (steps === 0) continue;
    d.count('frame attention weights one uint8 step apart', 1);
    if (steps > 1) fail(what, `position ${fa.position} attention weight ${k}: ${fa.attention[k]} vs ${fb.attention[k]}`);
  }
  d.count('frame attention weights compared', fa.attention.length);
}

export function compareFrameLists(what: string, a: (string | null)[], b: (string | null)[], tol: number, d: Differences): void {
  if (a.length !== b.length) fail(what, `${a.length} vs ${b.length} frames`);
  let compared = 0;
  a.forEach((fa, i) => {
    const fb = b[i];
    if (fa && fb) {
      compareFrames(`${what}, frame ${i}`, fa, fb, tol, d);
      compared++;
    }
  });
  if (compared < a.length) d.count(`frames not sent (client behind), not compared`, a.length - compared);
  if (compared === 0 && a.length > 0) fail(what, 'no frame to compare');
}

function closeArray(what: string, measure: string, a: number[], b: number[], tol: number, d: Differences): void {
  if (a.length !== b.length) fail(what, `${measure}: ${a.length} vs ${b.length} values`);
  let worst = 0, at = -1;
  for (let i = 0; i < a.length; i++) {
    const diff = Math.abs(a[i]! - b[i]!);
    if (diff > worst) { worst = diff; at = i; }
  }
  d.note(measure, worst);
  if (worst > tol) fail(what, `${measure}[${at}]: ${a[at]} vs ${b[at]} (|Δ| ${worst.toExponential(2)} > ${tol})`);
}

/** Explain: Δ within `tol` relative, the listed components the same in the same order, every value within `tol`. */
export function compareEffects(what: string, a: DriverEffects, b: DriverEffects, tol: number, d: Differences): void {
  sameTokens(what, a.tokens, b.tokens);
  if (a.target.id !== b.target.id || a.distractor.id !== b.distractor.id) fail(what, 'target or distractor differ');
  const rel = Math.abs(a.logitDiff - b.logitDiff) / Math.max(Math.abs(a.logitDiff), 1e-6);
  d.note('Δ (logit difference), relative', rel);
  if (rel > tol) fail(what, `Δ ${a.logitDiff} vs ${b.logitDiff}`);
  closeArray(what, 'constant term of Δ', [a.constant], [b.constant], tol, d);
  closeArray(what, 'token effects: gradient × input', a.tokenEffects.map((t) => t.gradXInput), b.tokenEffects.map((t) => t.gradXInput), tol, d);
  closeArray(what, 'token effects: occlusion', a.tokenEffects.map((t) => t.occlusion), b.tokenEffects.map((t) => t.occlusion), tol, d);
  for (const list of ['direct', 'total'] as const) {
    const id = (c: DriverEffects['direct'][number]) => `${c.kind}:${c.layer}:${c.index}${c.pos === undefined ? '' : `@${c.pos}`}`;
    const ia = a[list].map(id), ib = b[list].map(id);
    if (ia.join(' ') !== ib.join(' ')) {
      const first = ia.findIndex((x, i) => x !== ib[i]);
      fail(what, `${list} effects differ from place ${first}: ${ia.slice(first, first + 3).join(' ')} vs ${ib.slice(first, first + 3).join(' ')}`);
    }
    closeArray(what, `${list} effects of the listed components`, a[list].map((c) => c.value), b[list].map((c) => c.value), tol, d);
  }
  closeArray(what, 'every neuron\'s direct effect', a.neuronDirect, b.neuronDirect, tol, d);
  closeArray(what, 'every neuron\'s total effect (summed over positions)', a.neuronTotal, b.neuronTotal, tol, d);
}

interface GraphJson {
  nodes: { node_id: string; activation?: number | null }[];
  links: { source: string; target: string; weight: number }[];
}

/** Trace: the same graph size, the same node ids in the same order, every link's weight within `tol`. */
export function compareGraphs(what: string, a: DriverGraph, b: DriverGraph, tol: number, d: Differences): void {
  if (a.full.nodes !== b.full.nodes || a.full.links !== b.full.links) fail(what, `whole graph ${JSON.stringify(a.full)} vs ${JSON.stringify(b.full)}`);
  if (a.sent.nodes !== b.sent.nodes || a.sent.links !== b.sent.links) fail(what, `sent graph ${JSON.stringify(a.sent)} vs ${JSON.stringify(b.sent)}`);
  const ga = JSON.parse(a.graph) as GraphJson, gb = JSON.parse(b.graph) as GraphJson;
  const na = ga.nodes.map((n) => n.node_id), nb = gb.nodes.map((n) => n.node_id);
  if (na.join(' ') !== nb.join(' ')) fail(what, `node ids differ (${na.length} vs ${nb.length})`);
  closeArray(what, 'graph node activations', ga.nodes.map((n) => n.activation ?? 0), gb.nodes.map((n) => n.activation ?? 0), tol, d);
  const weights = new Map(gb.links.map((l) => [`${l.source}>${l.target}`, l.weight]));
  const wa: number[] = [], wb: number[] = [];
  for (const link of ga.links) {
    const other = weights.get(`${link.source}>${link.target}`);
    if (other === undefined) fail(what, `link ${link.source} → ${link.target} only on one side`);
    wa.push(link.weight);
    wb.push(other);
  }
  closeArray(what, 'graph link weights', wa, wb, tol, d);
}
