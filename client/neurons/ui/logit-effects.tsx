/**
 * What the neuron writes: the tokens its output weights push up (promoted) and down
 * (suppressed) through the unembedding, per unit of activation — one line of chips each, tinted
 * by value (as many as fit), all of them in wrapped rows on request.
 */
import { useState } from 'react';
import type { LogitEffect } from '../../../shared/neuron-index.js';
import { activationCss } from '../../scene/colour-scale.js';
import { displayToken } from '../../scene/token-rail.js';
import { formatActivation } from '../state/neuron-format.js';

function EffectChips({ sign, effects, range, testId }: { sign: '↑' | '↓'; effects: LogitEffect[]; range: number; testId: string }) {
  return (
    <div className="logit-row">
      <span className="logit-sign" title={sign === '↑' ? 'promotes' : 'suppresses'}>{sign}</span>
      <ol className="logit-chips" data-testid={testId}>
        {effects.map((effect, i) => (
          <li
            key={`${effect.token.id}:${i}`}
            data-token-id={effect.token.id}
            data-value={effect.value}
            title={`token ${effect.token.id} ${JSON.stringify(effect.token.text)}: ${effect.value}`}
            style={{ background: `color-mix(in srgb, ${activationCss(effect.value, range)} ${Math.round(20 + 45 * Math.min(1, Math.abs(effect.value) / range))}%, #0b0d13)` }}
          >
            <span className="token">{displayToken(effect.token.text)}</span>
            <span className="logit-value">{formatActivation(effect.value)}</span>
          </li>
        ))}
      </ol>
    </div>
  );
}

export function LogitEffects({ promoted, suppressed, initial = 8 }: { promoted: LogitEffect[]; suppressed: LogitEffect[]; initial?: number }) {
  const [all, setAll] = useState(false);
  const range = Math.max(1e-9, ...[...promoted, ...suppressed].map((e) => Math.abs(e.value)));
  const shown = (effects: LogitEffect[]) => (all ? effects : effects.slice(0, initial));
  return (
    <section className={all ? 'neuron-section logit-effects' : 'neuron-section logit-effects folded'} data-testid="neuron-logit-effects">
      <h3>
        Output tokens <span className="muted">logit change per unit activation</span>
        <button type="button" className="link inline-toggle" data-testid="neuron-logit-toggle" onClick={() => setAll(!all)}>
          {all ? 'fewer' : `all ${Math.max(promoted.length, suppressed.length)}`}
        </button>
      </h3>
      <EffectChips sign="↑" effects={shown(promoted)} range={range} testId="neuron-promoted" />
      <EffectChips sign="↓" effects={shown(suppressed)} range={range} testId="neuron-suppressed" />
    </section>
  );
}
