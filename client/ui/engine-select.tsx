/**
 * The Inference setting in the status bar: who runs the model, the server or this browser (a Web
 * Worker, see client/state/engine-choice.ts). Changing it reloads the page, because every service
 * holds the backend it was made with. The static build has no server: it says so instead.
 */
import { currentEngine } from '../state/engine-choice.js';
import { uiPrefs } from '../state/ui-prefs.js';

export function EngineSelect() {
  const engine = currentEngine();
  if (engine.staticBuild) {
    return <span className="engine-note" data-testid="engine-note" title={engine.serverOnlyReason ?? undefined}>Model runs in this browser</span>;
  }
  const change = (kind: 'server' | 'browser') => {
    uiPrefs.setState({ engine: kind });
    // The address's ?engine= would override the new setting after the reload.
    const url = new URL(window.location.href);
    url.searchParams.delete('engine');
    window.history.replaceState(window.history.state, '', `${url.pathname}${url.search}${url.hash}`);
    window.location.reload();
  };
  return (
    <label className="engine-select" title="Who runs the model: the server, or this browser (the page reloads)">
      Inference
      <select data-testid="engine-select" value={engine.kind} onChange={(event) => change(event.target.value as 'server' | 'browser')}>
        <option value="server">server</option>
        <option value="browser">in this browser</option>
      </select>
    </label>
  );
}
