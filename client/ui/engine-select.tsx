/**
 * The Inference setting in the status bar: who runs the model, the server or this browser (a Web
 * Worker, see client/state/engine-choice.ts). Changing it reloads the page, because every service
 * holds the backend it was made with. The static build has no server: it says so instead.
 */
import { currentEngine } from '../state/engine-choice.js';
import { uiPrefs } from '../state/ui-prefs.js';

/** This tab has used the setting (it stays offered across the reload a change makes). */
const OFFERED_KEY = 'circuits-xr-engine-offered';

/** Offered only to a page that asks for it (?engine=, or running in the browser already), while
 * the in-browser engine is being built (README, "Standalone build"): a setting every first
 * visitor sees but that cannot run the model yet would only be a trap, and the status bar must
 * stay one row on a first visit (tests/e2e/ux-layout.test.ts). */
function offered(kind: 'server' | 'browser'): boolean {
  try {
    if (kind === 'browser' || new URLSearchParams(window.location.search).has('engine')) window.sessionStorage.setItem(OFFERED_KEY, '1');
    return window.sessionStorage.getItem(OFFERED_KEY) === '1';
  } catch {
    return kind === 'browser';
  }
}

export function EngineSelect() {
  const engine = currentEngine();
  if (engine.staticBuild) {
    return <span className="engine-note" data-testid="engine-note" title={engine.serverOnlyReason ?? undefined}>Model runs in this browser</span>;
  }
  if (!offered(engine.kind)) return null;
  const change = (kind: 'server' | 'browser') => {
    uiPrefs.setState({ engine: kind });
    // The address's ?engine= would override the new setting after the reload.
    const url = new URL(window.location.href);
    url.searchParams.delete('engine');
    window.history.replaceState(window.history.state, '', `${url.pathname}${url.search}${url.hash}`);
    window.location.reload();
  };
  return (
    <label className="engine-select" title="Inference: who runs the model, the server or this browser (the page reloads)">
      <select data-testid="engine-select" aria-label="Inference" value={engine.kind} onChange={(event) => change(event.target.value as 'server' | 'browser')}>
        <option value="server">server</option>
        <option value="browser">browser</option>
      </select>
    </label>
  );
}
