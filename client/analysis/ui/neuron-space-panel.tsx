/**
 * Neuron space: the neurons and heads that most raise and most lower Δ, by direct or total
 * effect, filterable by layer — a plot (effect against layer) and two lists. Clicking a neuron
 * selects it (the app's selection: clouds, selection panel and circuit highlight follow).
 */
import { useMemo } from 'react';
import { useAppServices } from '../../state/app-context.js';
import { selectNeuron, useAppStore } from '../../state/app-store.js';
import { activationCss } from '../../scene/colour-scale.js';
import { useAnalysis } from '../state/analysis-services.js';
import { useAnalysisStore } from '../state/analysis-store.js';
import { componentLabel, rankComponents, type RankedComponent } from '../state/neuron-ranking.js';

const perSide = 10;

function EffectPlot({ components, layers, maxAbs, onPick }: { components: RankedComponent[]; layers: number; maxAbs: number; onPick: (c: RankedComponent) => void }) {
  const width = 300;
  const height = 110;
  const x = (layer: number) => 16 + ((layer + 0.5) / Math.max(1, layers)) * (width - 24);
  const y = (value: number) => height / 2 - (value / Math.max(1e-9, maxAbs)) * (height / 2 - 8);
  return (
    <svg className="effect-plot" data-testid="neuron-plot" viewBox={`0 0 ${width} ${height}`} width={width} height={height}>
      <line x1={12} x2={width - 4} y1={height / 2} y2={height / 2} stroke="#3a4050" />
      {Array.from({ length: layers }, (_, l) => (
        <text key={l} x={x(l)} y={height - 1} fontSize={8} fill="#9aa3b5" textAnchor="middle">{l}</text>
      ))}
      {components.map((c, i) => (
        <circle
          key={i}
          cx={x(c.layer) + ((i % 5) - 2) * 2}
          cy={y(c.value)}
          r={c.kind === 'head' ? 4.5 : 3}
          fill={activationCss(c.value, maxAbs)}
          stroke={c.kind === 'head' ? '#fff' : 'none'}
          onClick={() => onPick(c)}
        >
          <title>{`${componentLabel(c)}: ${c.value.toFixed(4)}`}</title>
        </circle>
      ))}
    </svg>
  );
}

function ComponentList({ title, components, maxAbs, testId, onPick, selectedKey }: {
  title: string;
  components: RankedComponent[];
  maxAbs: number;
  testId: string;
  onPick: (c: RankedComponent) => void;
  selectedKey: string;
}) {
  return (
    <div>
      <h3>{title}</h3>
      <ol className="bar-list" data-testid={testId}>
        {components.map((c) => (
          <li key={`${c.kind}${c.layer}:${c.index}`} className={`${c.kind}:${c.layer}:${c.index}` === selectedKey ? 'selected' : ''}>
            <button type="button" className="link" data-testid="neuron-entry" data-layer={c.layer} data-index={c.index} data-kind={c.kind} onClick={() => onPick(c)} disabled={c.kind !== 'neuron'}>
              {componentLabel(c)}
            </button>
            <span className="bar-track">
              <span className={c.value >= 0 ? 'bar up' : 'bar down'} style={{ width: `${(Math.abs(c.value) / Math.max(1e-9, maxAbs)) * 50}%`, background: activationCss(c.value, maxAbs) }} />
            </span>
            <span className="value">{c.value.toFixed(3)}</span>
          </li>
        ))}
      </ol>
    </div>
  );
}

export function NeuronSpacePanel() {
  const { app } = useAppServices();
  const { store } = useAnalysis();
  const model = useAppStore(app, (s) => s.model);
  const selection = useAppStore(app, (s) => s.selection);
  const effects = useAnalysisStore(store, (s) => s.effects);
  const measure = useAnalysisStore(store, (s) => s.neuronMeasure);
  const layerFilter = useAnalysisStore(store, (s) => s.layerFilter);
  const layers = model?.nLayers ?? 0;
  const ranking = useMemo(
    () => (effects && layers > 0 ? rankComponents(effects, layers, measure, layerFilter, perSide) : null),
    [effects, layers, measure, layerFilter],
  );
  if (!effects || !ranking) return null;
  const pick = (c: RankedComponent) => {
    if (c.kind === 'neuron') selectNeuron(app, { layer: c.layer, neuron: c.index });
  };
  const selectedKey = selection ? `neuron:${selection.layer}:${selection.neuron}` : '';
  return (
    <section className="panel analysis-panel" data-testid="neuron-space-panel">
      <h2>Neuron space <span className="muted">({measure === 'direct' ? 'direct effect at the last token' : 'total effect, activation × gradient'})</span></h2>
      <div className="row">
        <div className="toggle">
          <button type="button" className={measure === 'direct' ? 'on' : ''} data-testid="neuron-direct" onClick={() => store.setState({ neuronMeasure: 'direct' })}>direct</button>
          <button type="button" className={measure === 'total' ? 'on' : ''} data-testid="neuron-total" onClick={() => store.setState({ neuronMeasure: 'total' })}>total</button>
        </div>
        <label className="inline">
          layer
          <select data-testid="layer-filter" value={layerFilter ?? ''} onChange={(e) => store.setState({ layerFilter: e.target.value === '' ? null : Number(e.target.value) })}>
            <option value="">all</option>
            {Array.from({ length: layers }, (_, l) => <option key={l} value={l}>{l}</option>)}
          </select>
        </label>
      </div>
      <EffectPlot components={[...ranking.raising, ...ranking.lowering]} layers={layers} maxAbs={ranking.maxAbs} onPick={pick} />
      <ComponentList title="Raise Δ (toward the target)" components={ranking.raising} maxAbs={ranking.maxAbs} testId="neurons-raising" onPick={pick} selectedKey={selectedKey} />
      <ComponentList title="Lower Δ (toward the distractor)" components={ranking.lowering} maxAbs={ranking.maxAbs} testId="neurons-lowering" onPick={pick} selectedKey={selectedKey} />
    </section>
  );
}
