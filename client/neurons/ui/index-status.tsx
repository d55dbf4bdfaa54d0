/**
 * The corpus index's state in words: a small indicator in the status area that everyone sees
 * while a build runs (or after it failed or stopped), and the notice in the neuron panel that
 * says why top examples and statistics are missing, with a button to build the index.
 */
import type { IndexStatus } from '../../../shared/neuron-index.js';
import { useNeurons } from '../state/neuron-services.js';
import { useNeuronStore } from '../state/neuron-store.js';
import { indexFraction, indexStatusText } from '../state/neuron-format.js';

function BuildButton({ status }: { status: IndexStatus }) {
  const { requests } = useNeurons();
  const label = status.state === 'cancelled' ? 'Resume building' : status.state === 'error' ? 'Try again' : 'Build the index';
  return (
    <button type="button" data-testid="build-index" onClick={() => void requests.buildIndex()}>
      {label}
    </button>
  );
}

function Progress({ status }: { status: IndexStatus }) {
  return <progress max={1} value={indexFraction(status)} data-testid="index-progress" />;
}

/** Shown in the status area while a build runs, and when one failed or was stopped. */
export function IndexStatusIndicator() {
  const { store, requests } = useNeurons();
  const status = useNeuronStore(store, (state) => state.index);
  const error = useNeuronStore(store, (state) => state.indexError);
  if (!status || status.state === 'ready' || status.state === 'absent') {
    return error ? <div className="panel index-status" data-testid="index-status" data-state="unknown"><span className="error">Corpus index: {error}</span></div> : null;
  }
  return (
    <div className="panel index-status" data-testid="index-status" data-state={status.state}>
      <div className="index-status-text">{indexStatusText(status)}</div>
      {status.state === 'building' ? (
        <div className="row">
          <Progress status={status} />
          <button type="button" className="small" data-testid="cancel-index" onClick={() => void requests.cancelIndex()}>
            Stop
          </button>
        </div>
      ) : (
        <div className="row">
          <BuildButton status={status} />
        </div>
      )}
    </div>
  );
}

/** In the neuron panel when the details have no corpus data yet. */
export function IndexNotice() {
  const { store } = useNeurons();
  const status = useNeuronStore(store, (state) => state.index);
  const error = useNeuronStore(store, (state) => state.indexError);
  return (
    <div className="index-notice" data-testid="neuron-index-notice" data-state={status?.state ?? 'unknown'}>
      <p>
        {status?.state === 'building'
          ? 'Top examples, statistics and the histogram appear when the corpus index is built.'
          : 'Top examples, statistics and the histogram come from a corpus index.'}
      </p>
      {status ? <p className="muted">{indexStatusText(status)}</p> : <p className="muted">{error ?? 'Asking the server about its corpus index…'}</p>}
      {status?.state === 'building' && <Progress status={status} />}
      {status && status.state !== 'building' && status.state !== 'ready' && <BuildButton status={status} />}
    </div>
  );
}
