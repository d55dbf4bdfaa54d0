/** Entry point: create the stores, the connection and the XR store once, then render. */
import { createRoot } from 'react-dom/client';
import { ActivationStore } from './state/activation-store.js';
import { createAppStore } from './state/app-store.js';
import { createConnection } from './state/connection.js';
import { backendFor, chooseEngine, isStaticBuild, setCurrentEngine } from './state/engine-choice.js';
import { ensureCrossOriginIsolation } from './state/cross-origin-isolation.js';
import { keepSceneOnFailure } from './state/keep-scene.js';
import { setupPlayback } from './state/playback.js';
import { attachRoom, createRoomStore, takeRoomLink } from './state/room.js';
import { registerRoom } from './state/room-services.js';
import { analysisServicesFor } from './analysis/state/analysis-services.js';
import { uiPrefs } from './state/ui-prefs.js';
import { App } from './ui/app.js';
import { createCircuitsXRStore } from './xr/xr-store.js';
import './ui/styles.css';

const app = createAppStore();
const activations = new ActivationStore();
// Presentation rooms: a `?room=` link joins as a follower (`&control=` as the presenter).
const roomStorage = (() => { try { return window.sessionStorage; } catch { return null; } })();
const roomLink = takeRoomLink(window.location, window.history, roomStorage);
// Who answers: the server or the engine in a worker of this page (engine-choice.ts).
const engine = chooseEngine({ staticBuild: isStaticBuild(), search: window.location.search, saved: uiPrefs.getState().engine, roomLink: roomLink !== null });
setCurrentEngine(engine);
if (engine.staticBuild) ensureCrossOriginIsolation();
const connection = createConnection(app, activations, backendFor(engine));
keepSceneOnFailure(connection, app, activations);
const services = { app, activations, connection };
const roomStore = createRoomStore();
const roomControls = attachRoom(connection.backend, app, activations, roomStore, engine.kind === 'server' ? roomLink : null, roomStorage, {
  analysis: analysisServicesFor(services).store, prefs: uiPrefs,
});
registerRoom(services, { store: roomStore, controls: roomControls });
setupPlayback(app);
const xrStore = createCircuitsXRStore();

const container = document.getElementById('root');
if (!container) throw new Error('missing #root');
createRoot(container).render(<App services={services} xrStore={xrStore} />);
