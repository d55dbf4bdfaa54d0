/**
 * Features in Explain (servers with transcoders): the transcoder features at the last token that
 * most raise and most lower Δ by direct effect, a_f (W_dec[f] · g), and per layer how much of the
 * MLP's direct effect the features carry (the rest is b_dec and the skip path, and the
 * transcoder's error). Shown in the Neurons tab under the neuron space. Clicking a feature asks the
 * server to explain it (feature-details.tsx shows the answer in the Transcoder features panel).
 */
import { useAppServices } from '../../state/app-context.js';
import { explainFeature } from '../../state/feature-view.js';
import { activationCss } from '../../scene/colour-scale.js';
import { useAnalysis } from '../state/analysis-services.js';
import { useAnalysisStore } from '../state/analysis-store.js';
import type { FeatureEffect } from '../../../shared/protocol.js';

function FeatureList({ title, items, maxAbs, testId, onPick, tokens }: { title: string; items: FeatureEffect[]; maxAbs: number; testId: string; onPick: (f: FeatureEffect) => void; tokens?: string[] }) {
  return (
    <div>
      <h3>{title}</h3>
      <ol className="bar-list" data-testid={testId}>
        {items.map((f) => (
          <li key={`${f.layer}:${f.index}:${f.pos}`} data-testid="feature-effect" data-layer={f.layer} data-index={f.index} data-pos={f.pos} data-value={f.value}>
            <button type="button" className="link" data-testid="feature-pick" title={`activation ${f.activation.toFixed(3)}; click to explain`} onClick={() => onPick(f)}>L{f.layer} F{f.index}{tokens ? ` @${f.pos} ${JSON.stringify(tokens[f.pos] ?? '')}` : ''}</button>
            <span className="bar-track">
              <span className={f.value >= 0 ? 'bar up' : 'bar down'} style={{ width: `${(Math.abs(f.value) / Math.max(1e-9, maxAbs)) * 50}%`, background: activationCss(f.value, maxAbs) }} />
            </span>
            <span className="value">{f.value.toFixed(3)}</span>
          </li>
        ))}
      </ol>
    </div>
  );
}

export function FeatureEffectsPanel() {
  const { store } = useAnalysis();
  const services = useAppServices();
  const features = useAnalysisStore(store, (s) => s.effects?.features ?? null);
  const tokens = useAnalysisStore(store, (s) => s.effects?.tokens)?.map((t) => t.text);
  if (!features) return null;
  const pick = (f: FeatureEffect) => explainFeature(services, f.layer, f.index);
  const raising = features.direct.filter((f) => f.value > 0);
  const lowering = features.direct.filter((f) => f.value < 0);
  const maxAbs = Math.max(1e-9, ...features.direct.map((f) => Math.abs(f.value)));
  const total = features.total ?? [];
  const totalMax = Math.max(1e-9, ...total.map((f) => Math.abs(f.value)));
  return (
    <section className="panel analysis-panel" data-testid="feature-effects-panel">
      <h2>Transcoder features <span className="muted">(direct effect at the last token)</span></h2>
      <FeatureList title="Raise Δ (toward the target)" items={raising} maxAbs={maxAbs} testId="features-raising" onPick={pick} />
      <FeatureList title="Lower Δ (toward the distractor)" items={lowering} maxAbs={maxAbs} testId="features-lowering" onPick={pick} />
      {total.length > 0 && (
        <>
          <h2>Transcoder features <span className="muted">(total effect, activation × gradient of Δ, every position)</span></h2>
          <FeatureList title="Raise Δ" items={total.filter((f) => f.value > 0)} maxAbs={totalMax} testId="features-total-raising" onPick={pick} tokens={tokens} />
          <FeatureList title="Lower Δ" items={total.filter((f) => f.value < 0)} maxAbs={totalMax} testId="features-total-lowering" onPick={pick} tokens={tokens} />
        </>
      )}
      <p className="muted">Click a feature to explain it (in the Features tab).</p>
      <p className="muted" data-testid="feature-effect-layers">
        MLP direct effect by layer (features + b_dec/skip + error):{' '}
        {features.layers.map((l) => `L${l.layer} ${l.mlp.toFixed(2)} = ${(l.mlp - l.rest - l.error).toFixed(2)} + ${l.rest.toFixed(2)} + ${l.error.toFixed(2)}`).join('; ')}
      </p>
    </section>
  );
}
