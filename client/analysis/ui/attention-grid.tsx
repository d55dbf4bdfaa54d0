/**
 * The selected attention head's pattern over the prompt as a query × key grid (rows: the token
 * attending; columns: the token attended to; brightness: weight, 0..1), with its previous-token
 * and induction scores, so a previous-token head shows as the sub-diagonal and an induction head
 * as the stripe one after the earlier copy of a repeated sequence. Pick a head here or click one
 * beside its layer in 3D; the shown position's row is outlined (the arcs in 3D draw that row).
 * Canvas drawing: T² cells without T² DOM nodes.
 */
import { useEffect, useRef, useState } from 'react';
import { useAppServices } from '../../state/app-context.js';
import { choosePosition, useAppStore } from '../../state/app-store.js';
import { colourAt } from '../../scene/colour-scale.js';
import { useAnalysis } from '../state/analysis-services.js';
import { useAnalysisStore } from '../state/analysis-store.js';
import { assemblePattern, inductionScore, previousTokenScore, type HeadPattern } from '../state/attention-pattern.js';
import { tokenText } from '../state/circuit-view.js';

const gridPixels = 240;

export function AttentionGrid() {
  const { app, activations } = useAppServices();
  const { store } = useAnalysis();
  const model = useAppStore(app, (s) => s.model);
  const tokens = useAppStore(app, (s) => s.tokens);
  const framesReady = useAppStore(app, (s) => s.framesReady);
  const runId = useAppStore(app, (s) => s.runId);
  const position = useAppStore(app, (s) => s.position);
  const head = useAnalysisStore(store, (s) => s.selectedHead);
  const canvas = useRef<HTMLCanvasElement>(null);
  const [pattern, setPattern] = useState<HeadPattern | null>(null);

  useEffect(() => {
    if (!head) return setPattern(null);
    setPattern(assemblePattern((q) => activations.attentionRow(q, head.layer, head.head), Math.min(tokens.length, activations.length)));
  }, [head, tokens, framesReady, runId, activations]);

  useEffect(() => {
    const context = canvas.current?.getContext('2d');
    if (!context || !pattern) return;
    const { size, weights } = pattern;
    context.fillStyle = '#0b0d13';
    context.fillRect(0, 0, gridPixels, gridPixels);
    if (size === 0) return;
    const cell = gridPixels / size;
    for (let q = 0; q < size; q++) {
      for (let k = 0; k <= q; k++) {
        const [r, g, b] = colourAt(Math.sqrt(weights[q * size + k]!));
        context.fillStyle = `rgb(${r * 255},${g * 255},${b * 255})`;
        context.fillRect(k * cell, q * cell, Math.ceil(cell), Math.ceil(cell));
      }
    }
    if (position < size) {
      context.strokeStyle = '#ffffff';
      context.lineWidth = 1.5;
      context.strokeRect(0.75, position * cell + 0.75, (position + 1) * cell - 1.5, cell - 1.5);
    }
  }, [pattern, position]);

  if (!model) return null;
  const choose = (layer: number, h: number) => store.setState({ selectedHead: { layer, head: h } });
  const previous = pattern ? previousTokenScore(pattern) : null;
  const induction = pattern ? inductionScore(pattern, tokens.map((t) => t.id)) : null;
  const size = pattern?.size ?? 0;
  const labelEvery = Math.max(1, Math.ceil(size / 24));
  return (
    <section className="attention-grid" data-testid="attention-grid" data-layer={head?.layer ?? ''} data-head={head?.head ?? ''} data-size={size}>
      <div className="row">
        <b>Attention</b>
        <select data-testid="head-layer" value={head?.layer ?? ''} onChange={(e) => (e.target.value === '' ? store.setState({ selectedHead: null }) : choose(Number(e.target.value), head?.head ?? 0))}>
          <option value="">head…</option>
          {Array.from({ length: model.nLayers }, (_, l) => <option key={l} value={l}>layer {l}</option>)}
        </select>
        {head && (
          <select data-testid="head-index" value={head.head} onChange={(e) => choose(head.layer, Number(e.target.value))}>
            {Array.from({ length: model.nHeads }, (_, h) => <option key={h} value={h}>head {h}</option>)}
          </select>
        )}
        {head && <button type="button" className="link" data-testid="head-close" onClick={() => store.setState({ selectedHead: null })}>×</button>}
      </div>
      {!head && <p className="muted">Choose a head here or click one beside its layer: its pattern shows here and as arcs over the token rail.</p>}
      {head && (
        <>
          <p className="muted" data-testid="head-scores" data-prev={previous ?? ''} data-induction={induction ?? ''}>
            L{head.layer}H{head.head} · blocks.{head.layer}.attn.hook_pattern · previous-token <b data-testid="prev-score">{previous === null ? '–' : previous.toFixed(2)}</b> · induction <b data-testid="induction-score">{induction === null ? '– (no repeated token)' : induction.toFixed(2)}</b>
          </p>
          {size === 0 ? <p className="muted">Run a prompt to see this head's pattern.</p> : (
            <div className="grid-wrap">
              <div />
              <div className="keys">key →  (row: query; white outline: the shown position)</div>
              <ol className="query-labels" style={{ height: gridPixels }}>
                {tokens.slice(0, size).map((t, q) => (
                  <li key={q} style={{ height: gridPixels / size }} className={q === position ? 'on' : ''}>{q % labelEvery === 0 ? tokenText(t.text) : ''}</li>
                ))}
              </ol>
              <canvas
                ref={canvas}
                width={gridPixels}
                height={gridPixels}
                data-testid="attention-canvas"
                title="row: query (attending token); column: key (attended token). Click a row to show that position."
                onClick={(e) => {
                  const rect = e.currentTarget.getBoundingClientRect();
                  choosePosition(app, Math.floor(((e.clientY - rect.top) / rect.height) * size));
                }}
              />
            </div>
          )}
        </>
      )}
    </section>
  );
}
