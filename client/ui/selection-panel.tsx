/** The picked neuron: its id, activation at the shown token, and activation history. */
import { useAppServices } from '../state/app-context.js';
import { neuronLabel, selectNeuron, useAppStore, choosePosition } from '../state/app-store.js';
import { activationCss } from '../scene/colour-scale.js';
import { displayToken } from '../scene/token-rail.js';

export function SelectionPanel() {
  const { app, activations } = useAppServices();
  const selection = useAppStore(app, (state) => state.selection);
  const position = useAppStore(app, (state) => state.position);
  const tokens = useAppStore(app, (state) => state.tokens);
  const grabbed = useAppStore(app, (state) => state.grabbed);
  useAppStore(app, (state) => state.historyVersion); // re-read the history when frames arrive
  if (!selection) return null;
  const history = activations.history(selection.layer, selection.neuron);
  const peak = Math.max(1e-6, ...history.map(Math.abs));
  const value = activations.neuron(position, selection.layer, selection.neuron);
  return (
    <div className="panel selection-panel" data-testid="selection-panel">
      <div className="selection-header">
        <h2 data-testid="selection-id">{neuronLabel(selection)}</h2>
        <button type="button" className="link" onClick={() => selectNeuron(app, null)}>Clear</button>
      </div>
      <p>
        Activation at token {position}
        {tokens[position] ? ` “${displayToken(tokens[position].text)}”` : ''}: <b>{value.toFixed(3)}</b>
      </p>
      {grabbed && <p data-testid="grabbed">Grabbed ({grabbed.kind})</p>}
      <div className="history" data-testid="activation-history" role="group" aria-label="activation history">
        {history.map((v, p) => (
          <button
            key={p}
            type="button"
            className={p === position ? 'bar-slot current' : 'bar-slot'}
            title={`${p}: ${tokens[p] ? displayToken(tokens[p].text) : ''} = ${v.toFixed(3)}`}
            aria-label={`token ${p}${tokens[p] ? ` “${displayToken(tokens[p].text)}”` : ''}: activation ${v.toFixed(3)}`}
            aria-current={p === position ? 'true' : undefined}
            onClick={() => choosePosition(app, p)}
          >
            <span
              className={v >= 0 ? 'bar up' : 'bar down'}
              style={{ height: `${(Math.abs(v) / peak) * 50}%`, background: activationCss(v, activations.maxAbs) }}
            />
          </button>
        ))}
      </div>
    </div>
  );
}
