/**
 * The neuron explanation panel (desktop), under the selection panel (which shows the neuron's
 * id and its activation history over the current prompt): the imported explanation, corpus
 * statistics and histogram, the tokens the neuron promotes and suppresses, and its
 * top-activating and quantile examples with per-token highlighting. Loading, errors and a missing corpus index
 * are said in words; logit effects show without the index.
 */
import type { IndexedNeuron, NeuronExplanation } from '../../../shared/neuron-index.js';
import { useAppServices } from '../../state/app-context.js';
import { useAppStore } from '../../state/app-store.js';
import { statEntries, indexStatusText } from '../state/neuron-format.js';
import { useNeurons } from '../state/neuron-services.js';
import { useNeuronStore } from '../state/neuron-store.js';
import { IndexNotice } from './index-status.js';
import { LogitEffects } from './logit-effects.js';
import { NeuronHistogram } from './neuron-histogram.js';
import { QuantileExamples, TopExamples } from './neuron-examples.js';
import './neurons.css';

function Explanation({ explanation }: { explanation: NeuronExplanation | null }) {
  if (!explanation) return null;
  return (
    <p className="neuron-explanation" data-testid="neuron-explanation">
      <span className="explanation-text">“{explanation.text}”</span>{' '}
      <span className="muted">
        {explanation.score !== null && <>score {explanation.score.toFixed(2)} · </>}
        {explanation.source}
      </span>
    </p>
  );
}

/** The neuron's activation at the shown token of the current prompt, or null without a frame. */
function useActivationHere(layer: number, neuron: number): number | null {
  const { app, activations } = useAppServices();
  const position = useAppStore(app, (state) => state.position);
  useAppStore(app, (state) => state.historyVersion);
  return activations.has(position) ? activations.neuron(position, layer, neuron) : null;
}

function CorpusStats({ indexed, layer, neuron }: { indexed: IndexedNeuron; layer: number; neuron: number }) {
  const here = useActivationHere(layer, neuron);
  return (
    <>
      <section className="neuron-section">
        <dl className="neuron-stats" data-testid="neuron-stats">
          {statEntries(indexed.stats).map((entry) => (
            <div key={entry.key} className="stat" data-testid="neuron-stat" data-key={entry.key} data-value={entry.value} title={entry.title}>
              <dt>{entry.label}</dt>
              <dd>{entry.text}</dd>
            </div>
          ))}
        </dl>
        <NeuronHistogram histogram={indexed.histogram} here={here} />
      </section>
    </>
  );
}

/** Tokens are highlighted relative to the neuron's maximum over the corpus. */
function CorpusExamples({ indexed }: { indexed: IndexedNeuron }) {
  const max = Math.max(indexed.stats.max, indexed.topExamples[0]?.value ?? 0, 1e-6);
  return (
    <>
      <TopExamples examples={indexed.topExamples} max={max} />
      <QuantileExamples examples={indexed.quantileExamples} max={max} />
    </>
  );
}

export function NeuronDetailsPanel() {
  const { store, requests } = useNeurons();
  const neuron = useNeuronStore(store, (state) => state.neuron);
  const status = useNeuronStore(store, (state) => state.status);
  const details = useNeuronStore(store, (state) => state.details);
  const error = useNeuronStore(store, (state) => state.error);
  // The index status only shows in the footer of indexed details: no re-render per progress event otherwise.
  const index = useNeuronStore(store, (state) => (state.details?.indexed ? state.index : null));
  if (!neuron) return null;
  return (
    <div className="panel neuron-details" data-testid="neuron-details" data-status={status} data-layer={neuron.layer} data-index={neuron.neuron}>
      <h2>
        Explanation <span className="muted hook">blocks.{neuron.layer}.mlp.hook_post[{neuron.neuron}]</span>
        {details && !details.explanation && <span className="muted none" data-testid="neuron-no-explanation">none imported</span>}
      </h2>
      {status === 'loading' && (
        <p className="muted" data-testid="neuron-loading">
          Loading the neuron’s examples and logit effects…
        </p>
      )}
      {error && (
        <div className="error neuron-error" data-testid="neuron-error">
          <span>{status === 'error' ? 'Could not load this neuron' : 'Could not refresh this neuron'}: {error}</span>
          <button type="button" className="small" onClick={() => requests.retry()}>
            Retry
          </button>
        </div>
      )}
      {details && (
        <>
          <Explanation explanation={details.explanation} />
          {details.indexed ? <CorpusStats indexed={details.indexed} layer={neuron.layer} neuron={neuron.neuron} /> : <IndexNotice />}
          <LogitEffects promoted={details.promoted} suppressed={details.suppressed} />
          {details.indexed && <CorpusExamples indexed={details.indexed} />}
          {details.indexed && index && <p className="muted neuron-footer" data-testid="neuron-index-footer">{indexStatusText(index)}</p>}
        </>
      )}
    </div>
  );
}
