/** Connection, model and run state, always visible, with the page's tools: guide, reset view, link, VR. */
import type { XRStore } from '@react-three/xr';
import { useState, type ReactNode } from 'react';
import { useAppServices } from '../state/app-context.js';
import { useAppStore } from '../state/app-store.js';
import { plainError } from '../state/plain-errors.js';
import { uiPrefs } from '../state/ui-prefs.js';
import { resetView } from '../scene/view-reset.js';
import { useAnalysis } from '../analysis/state/analysis-services.js';
import { EnterVRButton } from './enter-vr.js';
import { EngineSelect } from './engine-select.js';
import { OpenModelButton } from './model-drop.js';
import { viewLink } from './view-session.js';

export function StatusBar({ xrStore, foldButton }: { xrStore?: XRStore; foldButton?: ReactNode }) {
  const services = useAppServices();
  const analysis = useAnalysis();
  const { app } = services;
  const connection = useAppStore(app, (state) => state.connection);
  const serverState = useAppStore(app, (state) => state.serverState);
  const model = useAppStore(app, (state) => state.model);
  const runStatus = useAppStore(app, (state) => state.runStatus);
  const framesReady = useAppStore(app, (state) => state.framesReady);
  const error = useAppStore(app, (state) => state.error);
  const [copied, setCopied] = useState<string | null>(null);

  let text: string;
  let tone: 'ok' | 'busy' | 'bad';
  if (connection === 'connecting') [text, tone] = ['Connecting…', 'busy'];
  else if (connection === 'reconnecting') [text, tone] = ['Disconnected — reconnecting…', 'bad'];
  else if (connection === 'disconnected') [text, tone] = [error?.startsWith('refused') ? 'Not connected: the server refused this page' : 'Disconnected', 'bad'];
  else if (serverState === 'loading' || !model) [text, tone] = ['Loading model…', 'busy'];
  else if (runStatus === 'running') [text, tone] = [`Running… ${framesReady} positions`, 'busy'];
  else if (runStatus === 'generating') [text, tone] = [`Generating… ${framesReady} positions`, 'busy'];
  else [text, tone] = [`${model.name}: ${model.nLayers} layers × ${model.neuronsPerLayer} neurons${model.runtime ? ' · in browser' : ''}`, 'ok'];

  const copyLink = async () => {
    const link = viewLink(services, analysis);
    try {
      await navigator.clipboard.writeText(link);
      setCopied('Link copied');
    } catch {
      // No clipboard permission (e.g. plain http): show the link to copy by hand.
      window.prompt('Copy this link', link);
      setCopied(null);
    }
    setTimeout(() => setCopied(null), 2500);
  };
  // Errors of a run are shown beside the prompt; here only the connection's own.
  const connectionError = error && (connection !== 'connected' || serverState === 'error') ? plainError(error) : null;
  return (
    <div className="panel status-bar" data-testid="status" data-state={tone} data-run={runStatus} data-connection={connection}>
      <div className="status-line">
        <span className={`dot ${tone}`} />
        <span className="status-text" title={[model?.runtime, model?.runtimeLoad].filter(Boolean).join('\n') || undefined} data-runtime={model?.runtime}>{text}</span>
        {foldButton}
      </div>
      <div className="tools">
        <button type="button" data-testid="guide-button" title="What am I looking at?" aria-label="guide" onClick={() => uiPrefs.setState({ guideOpen: !uiPrefs.getState().guideOpen })}>?</button>
        <button type="button" data-testid="reset-view" title="Put the camera back where it started (R)" onClick={() => resetView()}>Reset view</button>
        <button type="button" data-testid="copy-link" title="A link that opens this view" onClick={() => void copyLink()}>{copied ?? 'Copy link'}</button>
        {xrStore && <EnterVRButton xrStore={xrStore} />}
        <EngineSelect />
        <OpenModelButton />
      </div>
      {connectionError && <span className="error" data-testid="error">{connectionError}</span>}
      {model?.runtimeNotice && <span className="muted" data-testid="engine-notice">{model.runtimeNotice}</span>}
    </div>
  );
}
