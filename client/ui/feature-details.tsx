/**
 * One transcoder feature explained ('feature:details', asked from the Explain list, a click in a
 * feature cloud or a feature node of a traced circuit): the contexts where it fires most (tokens
 * coloured by its activation), how often it fires, and the tokens it promotes and suppresses.
 */
import { activationCss } from '../scene/colour-scale.js';
import { displayTokens } from '../state/token-text.js';
import type { FeatureDetails } from '../../shared/protocol.js';
import type { FeatureViewStore } from '../state/feature-view.js';
import { useFeatureView } from '../state/feature-view.js';
import { NeuronHistogram } from '../neurons/ui/neuron-histogram.js';
import type { FeatureExample } from '../../shared/protocol.js';

export function FeatureDetailsSection({ view }: { view: FeatureViewStore }) {
  const asked = useFeatureView(view, (s) => s.explained);
  const details = useFeatureView(view, (s) => s.details);
  const error = useFeatureView(view, (s) => s.detailsError);
  if (!asked) return <p className="muted">Click a feature (in a feature cloud, the Explain list or a traced circuit) to explain it.</p>;
  return (
    <>
      {!details && !error && <p className="muted" data-testid="feature-details-loading">Explaining L{asked.layer} feature {asked.index}: scanning the corpus…</p>}
      {error && <p className="error" role="alert" data-testid="feature-details-error">{error}</p>}
      {details && <FeatureDetailsView details={details} />}
    </>
  );
}

export function FeatureDetailsView({ details }: { details: FeatureDetails }) {
  const max = Math.max(1e-9, details.maxActivation);
  const tokens = (list: { token: { id: number; text: string } }[]) => displayTokens(list.map((e) => e.token)).map((t) => t.text).join(' ');
  return (
    <div className="feature-details" data-testid="feature-details" data-layer={details.layer} data-index={details.index}>
      <h3>L{details.layer} feature {details.index}</h3>
      <p className="muted" data-testid="feature-stats">
        fires on {(details.activeShare * 100).toFixed(2)}% of {details.tokensScanned.toLocaleString('en')} tokens of {details.corpus}; max {details.maxActivation.toFixed(2)}, mean when firing {details.meanActive.toFixed(2)}
      </p>
      {details.source && (
        <p className="muted" data-testid="feature-source" data-source={details.source}>
          {details.source === 'index' ? 'from the stored corpus index (examples: contexts by their maximum)' : 'scanned on demand (the corpus index does not cover this feature yet)'}
        </p>
      )}
      {details.explanation && (
        <p className="neuron-explanation" data-testid="feature-explanation">
          “{details.explanation.text}”{' '}
          <span className="muted">({details.explanation.score !== null ? `score ${details.explanation.score.toFixed(2)}, ` : ''}{details.explanation.source})</span>
        </p>
      )}
      <p className="muted">promotes: <span data-testid="feature-promoted">{tokens(details.promoted)}</span></p>
      <p className="muted">suppresses: <span data-testid="feature-suppressed">{tokens(details.suppressed)}</span></p>
      {details.histogram && <NeuronHistogram histogram={details.histogram} here={null} />}
      <ol className="feature-examples" data-testid="feature-examples">
        {details.examples.map((example, i) => <li key={i}><ExampleRow example={example} max={max} /></li>)}
      </ol>
      {details.quantiles && details.quantiles.length > 0 && (
        <>
          <p className="muted">across its range (quantiles of the tokens where it fires):</p>
          <ul className="feature-examples" data-testid="feature-quantiles">
            {details.quantiles.map((q, i) => (
              <li key={i} data-quantile={q.quantile}>
                <span className="muted">q{Math.round(q.quantile * 100)} </span>
                <ExampleRow example={q.example} max={max} />
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}

function ExampleRow({ example, max }: { example: FeatureExample; max: number }) {
  return (
    <span>
      {displayTokens(example.tokens).map((t, k) => (
        <span key={k} className={k === example.at ? 'chip used' : 'chip'} title={`${t.title}: ${example.activations[k]!.toFixed(3)}`} style={{ background: example.activations[k]! > 0 ? activationCss(example.activations[k]!, max) : undefined }}>
          {t.text}
        </span>
      ))}
      <span className="value"> {example.max.toFixed(2)}</span>
    </span>
  );
}

