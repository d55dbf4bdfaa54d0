/** Connection, model and run state, always visible; errors shown in words. */
import { useAppServices } from '../state/app-context.js';
import { useAppStore } from '../state/app-store.js';

export function StatusBar() {
  const { app } = useAppServices();
  const connection = useAppStore(app, (state) => state.connection);
  const serverState = useAppStore(app, (state) => state.serverState);
  const model = useAppStore(app, (state) => state.model);
  const runStatus = useAppStore(app, (state) => state.runStatus);
  const framesReady = useAppStore(app, (state) => state.framesReady);
  const error = useAppStore(app, (state) => state.error);

  let text: string;
  let tone: 'ok' | 'busy' | 'bad';
  if (connection === 'connecting') [text, tone] = ['Connecting…', 'busy'];
  else if (connection === 'reconnecting') [text, tone] = ['Disconnected — reconnecting…', 'bad'];
  else if (connection === 'disconnected') [text, tone] = [error?.startsWith('refused') ? 'Not connected: the server refused this page' : 'Disconnected', 'bad'];
  else if (serverState === 'loading' || !model) [text, tone] = ['Loading model…', 'busy'];
  else if (runStatus === 'running') [text, tone] = [`Running… ${framesReady} positions`, 'busy'];
  else if (runStatus === 'generating') [text, tone] = [`Generating… ${framesReady} positions`, 'busy'];
  else [text, tone] = [`${model.name}: ${model.nLayers} layers × ${model.neuronsPerLayer} neurons`, 'ok'];

  return (
    <div className="panel status-bar" data-testid="status" data-state={tone} data-run={runStatus} data-connection={connection}>
      <span className={`dot ${tone}`} />
      <span>{text}</span>
      {error && <span className="error" data-testid="error">{error}</span>}
    </div>
  );
}
