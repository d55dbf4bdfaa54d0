/** Token effects as a bar list: each prompt token's effect on Δ, by the chosen measure. */
import { activationCss } from '../../scene/colour-scale.js';
import { displayToken } from '../../scene/token-rail.js';
import { measureName, tokenEffectValue } from '../scene/token-effects-3d.js';
import { useAnalysis } from '../state/analysis-services.js';
import { useAnalysisStore, type TokenEffectMeasure } from '../state/analysis-store.js';

export function TokenEffectsPanel() {
  const { store } = useAnalysis();
  const effects = useAnalysisStore(store, (s) => s.effects);
  const measure = useAnalysisStore(store, (s) => s.tokenMeasure);
  if (!effects) return null;
  const values = effects.tokenEffects.map((t) => tokenEffectValue(t, measure));
  const range = Math.max(1e-9, ...values.map(Math.abs));
  const choose = (m: TokenEffectMeasure) => store.setState({ tokenMeasure: m });
  return (
    <section className="panel analysis-panel" data-testid="token-effects-panel">
      <h2>Token effects on Δ <span className="muted" data-testid="token-measure">({measureName(measure)})</span></h2>
      <div className="toggle">
        <button type="button" className={measure === 'gradXInput' ? 'on' : ''} data-testid="measure-grad" onClick={() => choose('gradXInput')}>grad × input</button>
        <button type="button" className={measure === 'occlusion' ? 'on' : ''} data-testid="measure-occlusion" onClick={() => choose('occlusion')}>occlusion</button>
      </div>
      <ol className="bar-list" data-testid="token-effects">
        {values.map((value, p) => (
          <li key={p} data-value={value}>
            <span className="token">{displayToken(effects.tokens[p]?.text ?? '')}</span>
            <span className="bar-track">
              <span className={value >= 0 ? 'bar up' : 'bar down'} style={{ width: `${(Math.abs(value) / range) * 50}%`, background: activationCss(value, range) }} />
            </span>
            <span className="value">{value.toFixed(3)}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}
