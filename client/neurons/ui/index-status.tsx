/**
 * The corpus index's state in words: a small indicator in the status area that everyone sees
 * while a build runs (or after it failed or stopped), and the notice in the neuron panel that
 * says why top examples and statistics are missing, with a button to build the index.
 */
import { useState } from 'react';
import type { IndexStatus } from '../../../shared/neuron-index.js';
import { useNeurons } from '../state/neuron-services.js';
import { useNeuronStore } from '../state/neuron-store.js';
import { indexFraction, indexStatusText } from '../state/neuron-format.js';
import { currentEngine } from '../../state/engine-choice.js';

/** A button for an index request, disabled until the server answers (or the request times out). */
function RequestButton({ request, text, label, className, testId }: {
  request: () => Promise<void>; text: string; label: string; className?: string; testId: string;
}) {
  const [waiting, setWaiting] = useState(false);
  const onClick = () => {
    setWaiting(true);
    void request().finally(() => setWaiting(false));
  };
  return (
    <button type="button" className={className} data-testid={testId} disabled={waiting} aria-label={label} onClick={onClick}>
      {text}
    </button>
  );
}

function BuildButton({ status }: { status: IndexStatus }) {
  const { requests } = useNeurons();
  const [text, label] = status.state === 'cancelled' ? ['Resume building', 'Resume building the corpus index']
    : status.state === 'error' ? ['Try again', 'Try building the corpus index again'] : ['Build the index', 'Build the corpus index'];
  // The index is built by the server (a long job over the corpus); none answers here.
  const unavailable = currentEngine().serverOnlyReason;
  if (unavailable) return <button type="button" data-testid="build-index" disabled title={unavailable}>{text}</button>;
  return <RequestButton request={requests.buildIndex} text={text} label={label} testId="build-index" />;
}

function Progress({ status }: { status: IndexStatus }) {
  return <progress max={1} value={indexFraction(status)} data-testid="index-progress" aria-label="Corpus index build progress" />;
}

function IndexError() {
  const { store } = useNeurons();
  const error = useNeuronStore(store, (state) => state.indexError);
  return error ? <p className="error" data-testid="index-error">Corpus index: {error}</p> : null;
}

/** Shown in the status area while a build runs, when one failed or was stopped, and when a request about it failed. */
export function IndexStatusIndicator() {
  const { store, requests } = useNeurons();
  const status = useNeuronStore(store, (state) => state.index);
  const error = useNeuronStore(store, (state) => state.indexError);
  if (!status || status.state === 'ready' || status.state === 'absent') {
    return error ? <div className="panel index-status" data-testid="index-status" data-state="unknown"><IndexError /></div> : null;
  }
  return (
    <div className="panel index-status" data-testid="index-status" data-state={status.state}>
      <div className="index-status-text">{indexStatusText(status)}</div>
      {status.state === 'building' ? (
        <div className="row">
          <Progress status={status} />
          <RequestButton request={requests.cancelIndex} text="Stop" label="Stop building the corpus index" className="small" testId="cancel-index" />
        </div>
      ) : (
        <div className="row">
          <BuildButton status={status} />
        </div>
      )}
      <IndexError />
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
      {status ? <p className="muted">{indexStatusText(status)}</p> : !error && <p className="muted">Asking the server about its corpus index…</p>}
      <IndexError />
      {status?.state === 'building' && <Progress status={status} />}
      {status && status.state !== 'building' && status.state !== 'ready' && <BuildButton status={status} />}
    </div>
  );
}
