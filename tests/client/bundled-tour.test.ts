/**
 * The bundled tour (assets/tours/induction.json) against the bundled model, with the real engine:
 * it validates; every head it names with a score has that score (measured by
 * tools/head-scores.ts, within 0.02); the head it calls the strongest induction head really has
 * the highest induction score, its previous-token head the highest previous-token score, and the
 * heads it leaves out score below 0.05; the copy losses it quotes are the measured ones; and on its
 * own prompt, at each beat's position, the model's top guess and the named head's attention are
 * what the caption says. So the tour cannot drift from the model: retrain it and this fails.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { validateTour, type Tour } from '../../client/state/tour-schema.js';
import { hookName } from '../../shared/engine/hooks.js';
import { loadModel } from '../../server/engine/load.js';
import { ModelRunner } from '../../shared/engine/runner.js';
import { defaultModelDir, headName, measureHeadScores, rankHeads, type HeadScores } from '../../tools/head-scores.js';

const tourPath = fileURLToPath(new URL('../../assets/tours/induction.json', import.meta.url));
let tour: Tour;
let scores: HeadScores;
let model: Awaited<ReturnType<typeof loadModel>>;
let runner: ModelRunner;

beforeAll(async () => {
  const checked = validateTour(JSON.parse(readFileSync(tourPath, 'utf8')));
  if (!checked.ok) throw new Error(`the bundled tour is invalid: ${checked.errors.join('; ')}`);
  tour = checked.value;
  scores = await measureHeadScores(defaultModelDir);
  model = await loadModel(defaultModelDir);
  runner = await ModelRunner.create(model.decoder);
});

const scoreClaim = /(L(\d+)H(\d+)) \((induction|previous-token) score (\d\.\d\d)[^)]*\)/g;

describe('bundled tour: How a small model copies', () => {
  it('is a valid tour for the bundled model, with a title and several short beats', () => {
    expect(tour.title).toBe('How a small model copies: its induction heads');
    expect(tour.model).toBe('brown-gpt2');
    expect(tour.beats.length).toBeGreaterThanOrEqual(5);
    for (const beat of tour.beats) expect(beat.caption.length).toBeLessThan(400);
  });

  it('states head scores that are the measured ones', () => {
    let claims = 0;
    for (const beat of tour.beats) {
      for (const [, name, layer, head, kind, stated] of beat.caption.matchAll(scoreClaim)) {
        const table = kind === 'induction' ? scores.induction : scores.previousToken;
        const measured = table[Number(layer)]![Number(head)]!;
        expect(Math.abs(measured - Number(stated)), `${name} ${kind} score: the tour says ${stated}, measured ${measured.toFixed(3)}`).toBeLessThanOrEqual(0.02);
        claims++;
      }
    }
    expect(claims).toBeGreaterThanOrEqual(5);
  });

  it('names as strongest induction head the one with the highest induction score, and its previous-token head is the highest of that kind', () => {
    const strongest = tour.beats.find((b) => b.caption.includes('the strongest induction head'));
    expect(strongest?.view.head, 'a beat selects the strongest induction head').toBeDefined();
    const inductionTop = rankHeads(scores.induction)[0]!;
    expect(headName(strongest!.view.head!)).toBe(headName(inductionTop));
    expect(strongest!.caption).toContain(headName(inductionTop));

    const previous = tour.beats.find((b) => /\(previous-token score/.test(b.caption) && b.view.head);
    const previousTop = rankHeads(scores.previousToken)[0]!;
    expect(headName(previous!.view.head!)).toBe(headName(previousTop));
    // It really stands out: the next previous-token head is far weaker.
    expect(previousTop.score - rankHeads(scores.previousToken)[1]!.score).toBeGreaterThan(0.3);
  });

  it('names every head with an induction score over 0.3, and the rest score below 0.05 as it says', () => {
    const named = new Set<string>();
    for (const beat of tour.beats) for (const m of beat.caption.matchAll(scoreClaim)) if (m[4] === 'induction') named.add(m[1]!);
    const strong = rankHeads(scores.induction).filter((h) => h.score > 0.3).map(headName);
    expect([...named].sort()).toEqual([...strong].sort());
    expect(tour.beats.some((b) => b.caption.includes('every other head scores below 0.05'))).toBe(true);
    for (const h of rankHeads(scores.induction)) if (!named.has(headName(h))) expect(h.score, headName(h)).toBeLessThan(0.05);
  });

  it('quotes the measured copy losses', () => {
    const beat = tour.beats.find((b) => /first copy/.test(b.caption));
    const m = /the loss is (\d+\.\d\d) nats per token on the first copy \(chance is (\d+\.\d\d)\) and (\d+\.\d\d) on the second/.exec(beat?.caption ?? '');
    expect(m, 'a beat states the first and second copy losses').not.toBeNull();
    expect(Math.abs(Number(m![1]) - scores.lossFirstCopy)).toBeLessThanOrEqual(0.02);
    expect(Number(m![2])).toBeCloseTo(Math.log(model.decoder.spec.vocabSize), 2);
    expect(Math.abs(Number(m![3]) - scores.lossSecondCopy)).toBeLessThanOrEqual(0.02);
    expect(scores.lossFirstCopy - scores.lossSecondCopy).toBeGreaterThan(3);
  });

  it('on its own prompt, the model guesses and the named heads attend as each caption says', async () => {
    const text = (id: number) => model.tokenizer.tokenString(id);
    let checked = 0;
    for (const [i, beat] of tour.beats.entries()) {
      const { prompt, position } = beat.view;
      expect(prompt, `beats[${i}] has a prompt`).toBeDefined();
      const ids = model.tokenizer.encode(prompt!);
      const T = ids.length;
      expect(position, `beats[${i}].view.position`).toBeLessThan(T);
      const q = position ?? T - 1;
      const { logits, cache } = await runner.run([ids], { hooks: Array.from({ length: model.decoder.spec.nLayers }, (_, l) => hookName.pattern(l)) });
      if (beat.view.head) expect(beat.view.head.layer).toBeLessThan(model.decoder.spec.nLayers);

      const guess = /top guess is “(.+?)” \((\d+)%\)/.exec(beat.caption);
      if (guess) {
        const V = logits.shape[2]!;
        const row = logits.data.subarray(q * V, (q + 1) * V);
        let best = 0;
        for (let v = 1; v < V; v++) if (row[v]! > row[best]!) best = v;
        let sum = 0;
        for (let v = 0; v < V; v++) sum += Math.exp(row[v]! - row[best]!);
        expect(text(best), `beats[${i}]: top guess`).toBe(guess[1]);
        expect(Math.abs(100 / sum - Number(guess[2])), `beats[${i}]: probability ${(100 / sum).toFixed(1)}%`).toBeLessThanOrEqual(2);
        expect(beat.view.target).toBe(guess[1]);
        checked++;
      }
      const looks = /(?:looks at|finds) “(.+?)” \((?:attention )?(\d+)%\)/.exec(beat.caption);
      if (looks) {
        const head = beat.view.head!;
        const H = model.decoder.spec.nHeads;
        const data = cache[hookName.pattern(head.layer)]!.data;
        const row = Array.from(data.subarray(((0 * H + head.head) * T + q) * T, ((0 * H + head.head) * T + q) * T + T));
        const key = row.indexOf(Math.max(...row));
        expect(text(ids[key]!), `beats[${i}]: ${headName(head)} attends most to`).toBe(looks[1]);
        expect(Math.abs(row[key]! * 100 - Number(looks[2])), `beats[${i}]: weight ${(row[key]! * 100).toFixed(1)}%`).toBeLessThanOrEqual(2);
        if (/\(previous-token score/.test(beat.caption)) expect(key).toBe(q - 1);
        if (/induction score/.test(beat.caption)) {
          // The key right after the earlier occurrence of the query's token.
          const earlier = ids.slice(0, q).lastIndexOf(ids[q]!);
          expect(earlier).toBeGreaterThanOrEqual(0);
          expect(key).toBe(earlier + 1);
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(3);
  });
});
