/**
 * Features in Explain (servers with transcoders): the transcoder features at the last token that
 * most raise and most lower Δ by direct effect, a_f (W_dec[f] · g), and per layer how much of the
 * MLP's direct effect the features carry (the rest is b_dec and the skip path, and the
 * transcoder's error). Shown in the Neurons tab under the neuron space. Clicking a feature asks the
 * server to explain it ('feature:details': a scan of part of the corpus, some seconds): the
 * contexts where it fires most, how often it fires, and the tokens it promotes and suppresses.
 */
import { useRef, useState } from 'react';
import { useAppServices } from '../../state/app-context.js';
import { displayTokens } from '../../state/token-text.js';
import { plainError } from '../../state/plain-errors.js';
import type { FeatureDetails } from '../../../shared/protocol.js';
import { activationCss } from '../../scene/colour-scale.js';
import { useAnalysis } from '../state/analysis-services.js';
import { useAnalysisStore } from '../state/analysis-store.js';
import type { FeatureEffect } from '../../../shared/protocol.js';

function FeatureList({ title, items, maxAbs, testId, onPick }: { title: string; items: FeatureEffect[]; maxAbs: number; testId: string; onPick: (f: FeatureEffect) => void }) {
  return (
    <div>
      <h3>{title}</h3>
      <ol className="bar-list" data-testid={testId}>
        {items.map((f) => (
          <li key={`${f.layer}:${f.index}`} data-testid="feature-effect" data-layer={f.layer} data-index={f.index} data-value={f.value}>
            <button type="button" className="link" data-testid="feature-pick" title={`activation ${f.activation.toFixed(3)}; click to explain`} onClick={() => onPick(f)}>L{f.layer} F{f.index}</button>
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

function FeatureDetailsView({ details }: { details: FeatureDetails }) {
  const max = Math.max(1e-9, details.maxActivation);
  const tokens = (list: { token: { id: number; text: string } }[]) => displayTokens(list.map((e) => e.token)).map((t) => t.text).join(' ');
  return (
    <div className="feature-details" data-testid="feature-details" data-layer={details.layer} data-index={details.index}>
      <h3>L{details.layer} feature {details.index}</h3>
      <p className="muted" data-testid="feature-stats">
        fires on {(details.activeShare * 100).toFixed(2)}% of {details.tokensScanned.toLocaleString('en')} tokens of {details.corpus}; max {details.maxActivation.toFixed(2)}, mean when firing {details.meanActive.toFixed(2)}
      </p>
      <p className="muted">promotes: <span data-testid="feature-promoted">{tokens(details.promoted)}</span></p>
      <p className="muted">suppresses: <span data-testid="feature-suppressed">{tokens(details.suppressed)}</span></p>
      <ol className="feature-examples" data-testid="feature-examples">
        {details.examples.map((example, i) => (
          <li key={i}>
            {displayTokens(example.tokens).map((t, k) => (
              <span key={k} className={k === example.at ? 'chip used' : 'chip'} title={`${t.title}: ${example.activations[k]!.toFixed(3)}`} style={{ background: example.activations[k]! > 0 ? activationCss(example.activations[k]!, max) : undefined }}>
                {t.text}
              </span>
            ))}
            <span className="value"> {example.max.toFixed(2)}</span>
          </li>
        ))}
      </ol>
    </div>
  );
}

export function FeatureEffectsPanel() {
  const { store } = useAnalysis();
  const { connection } = useAppServices();
  const features = useAnalysisStore(store, (s) => s.effects?.features ?? null);
  const [asked, setAsked] = useState<{ layer: number; index: number } | null>(null);
  const [details, setDetails] = useState<FeatureDetails | null>(null);
  const [error, setError] = useState<string | null>(null);
  const latest = useRef(0);
  if (!features) return null;
  const pick = (f: FeatureEffect) => {
    const request = { layer: f.layer, index: f.index };
    setAsked(request);
    setDetails(null);
    setError(null);
    const ticket = ++latest.current;
    connection.socket.emit('feature:details', request, (response) => {
      if (ticket !== latest.current) return; // a newer feature was asked for
      if (response.ok) setDetails(response.value);
      else setError(plainError(`${response.error.code}: ${response.error.message}`));
    });
  };
  const raising = features.direct.filter((f) => f.value > 0);
  const lowering = features.direct.filter((f) => f.value < 0);
  const maxAbs = Math.max(1e-9, ...features.direct.map((f) => Math.abs(f.value)));
  return (
    <section className="panel analysis-panel" data-testid="feature-effects-panel">
      <h2>Transcoder features <span className="muted">(direct effect at the last token)</span></h2>
      <FeatureList title="Raise Δ (toward the target)" items={raising} maxAbs={maxAbs} testId="features-raising" onPick={pick} />
      <FeatureList title="Lower Δ (toward the distractor)" items={lowering} maxAbs={maxAbs} testId="features-lowering" onPick={pick} />
      {asked && !details && !error && <p className="muted" data-testid="feature-details-loading">Explaining L{asked.layer} feature {asked.index}: scanning the corpus…</p>}
      {error && <p className="error" role="alert" data-testid="feature-details-error">{error}</p>}
      {details && <FeatureDetailsView details={details} />}
      <p className="muted" data-testid="feature-effect-layers">
        MLP direct effect by layer (features + b_dec/skip + error):{' '}
        {features.layers.map((l) => `L${l.layer} ${l.mlp.toFixed(2)} = ${(l.mlp - l.rest - l.error).toFixed(2)} + ${l.rest.toFixed(2)} + ${l.error.toFixed(2)}`).join('; ')}
      </p>
    </section>
  );
}
