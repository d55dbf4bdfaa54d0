/**
 * The Features tab of the analysis panels (only when the server has transcoders): their source, features per layer
 * and activation, and the live feature cloud toggle (off, beside each neuron cloud, or instead of
 * it), with how many features fire in each layer at the shown position.
 * Also publishes `window.__circuitsFeatures` for browser tests.
 */
import type { AppServices } from '../state/app-context.js';
import { useAppServices } from '../state/app-context.js';
import { useAppStore } from '../state/app-store.js';
import { featureViewFor, setupFeatureStream, useFeatureView, type FeatureCloudMode, type FeatureViewStore } from '../state/feature-view.js';
import { featureCloudRegistry } from '../scene/feature-clouds.js';
import { analysisServicesFor } from '../analysis/state/analysis-services.js';
import { FeatureDetailsSection } from './feature-details.js';

declare global {
  interface Window {
    __circuitsFeatures?: { view: FeatureViewStore; clouds: () => { mode: FeatureCloudMode; lit: number[]; position: number; offsetX: number | null; neuronCloudsVisible: boolean | null };
      project: (layer: number, index: number) => { x: number; y: number; visible: boolean } | null };
  }
}

const modes: { mode: FeatureCloudMode; label: string; title: string }[] = [
  { mode: 'off', label: 'off', title: 'neuron clouds only (the server sends no features)' },
  { mode: 'beside', label: 'beside', title: 'each layer\'s feature cloud beside its neuron cloud' },
  { mode: 'instead', label: 'instead', title: 'each layer shows its features in place of its neurons' },
];

/** The feature stream's subscription for the app's lifetime (App mounts it once), and the test hook. */
export function setupFeatureView(services: AppServices): () => void {
  const view = featureViewFor(services);
  const analysis = analysisServicesFor(services);
  const teardown = setupFeatureStream(services, () => {
    const { runStatus, tokens } = services.app.getState();
    const { prompt } = analysis.store.getState();
    if (runStatus === 'idle' && tokens.length > 0 && prompt.trim().length > 0) void services.connection.runPrompt(prompt);
  });
  window.__circuitsFeatures = {
    view,
    clouds: () => ({ mode: view.getState().cloud, lit: [...featureCloudRegistry.lit], position: featureCloudRegistry.position, offsetX: featureCloudRegistry.layout?.offsetX ?? null, neuronCloudsVisible: featureCloudRegistry.neuronCloudsVisible() }),
    project: (layer, index) => featureCloudRegistry.project(layer, index),
  };
  return teardown;
}

export function FeaturesPanel() {
  const services = useAppServices();
  const { app, activations } = services;
  const view = featureViewFor(services);
  const transcoders = useAppStore(app, (s) => s.model?.transcoders ?? null);
  const position = useAppStore(app, (s) => s.position);
  useAppStore(app, (s) => s.historyVersion);
  const mode = useFeatureView(view, (s) => s.cloud);
  const subscribed = useFeatureView(view, (s) => s.subscribed);
  const error = useFeatureView(view, (s) => s.error);

  if (!transcoders) return null;
  const counts = [...new Set(transcoders.featuresPerLayer)].join('/');
  const active = activations.hasFeatures(position)
    ? transcoders.featuresPerLayer.map((F, l) => activations.readFeatureLayer(position, l, new Float32Array(F)))
    : null;
  return (
    <section className="panel analysis-panel" data-testid="features-panel">
      <h2>Transcoder features</h2>
      <p className="muted" data-testid="transcoder-info" title={transcoders.source}>
        {transcoders.featuresPerLayer.length} layers × {counts} features, {transcoders.activation}{transcoders.skip ? ' with skip' : ''}; from {transcoders.source.split('/').slice(-2).join('/')}
      </p>
      <div className="row" role="radiogroup" aria-label="feature clouds">
        <span>Feature clouds:</span>
        <span className="toggle">
        {modes.map((m) => (
          <button
            key={m.mode}
            type="button"
            role="radio"
            aria-checked={mode === m.mode}
            className={mode === m.mode ? 'on' : undefined}
            data-testid={`feature-cloud-${m.mode}`}
            title={m.title}
            onClick={() => view.setState({ cloud: m.mode })}
          >
            {m.label}
          </button>
        ))}
        </span>
      </div>
      {mode !== 'off' && !subscribed && !error && <p className="muted">subscribing…</p>}
      {active && (
        <p className="muted" data-testid="features-active">
          Active at this token: {active.map((n, l) => `L${l} ${n}`).join(', ')}
        </p>
      )}
      {error && <p className="error" role="alert" data-testid="features-error">{error}</p>}
      <FeatureDetailsSection view={view} />
    </section>
  );
}
