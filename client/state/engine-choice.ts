/**
 * Who answers this page: the Node server (socket.io) or the engine in a Web Worker of this page.
 *
 * - The static build (`npm run build:static`, Vite mode 'static') has no server: the worker is
 *   the only backend. The flag is compiled in (import.meta.env.MODE) rather than fetched at
 *   start: the static build is its own Vite build anyway (relative base, bundled model), the page
 *   knows it synchronously before the connection is made, and no extra request can fail.
 * - Served by `npm start`: the viewer's setting (ui-prefs `engine`, the Inference select in the
 *   status bar), overridden for one page by `?engine=browser|server` in the address. A room link
 *   (`?room=`) needs the server, which relays the room.
 *
 * The choice is made once per page load (every service holds the backend); changing the setting
 * reloads the page.
 */
import type { Backend, BackendKind } from './backend.js';
import { createSocketBackend } from './connection.js';
import { createWorkerBackend } from './worker-backend.js';
import type { ModelFilesMessage } from '../engine-worker/port-messages.js';

/** True in the static build (dist-static/): no server exists. */
export function isStaticBuild(): boolean {
  return (import.meta as ImportMeta & { env?: { MODE?: string } }).env?.MODE === 'static';
}

export interface EngineChoice {
  kind: BackendKind;
  /** No server to switch to (the static build). */
  staticBuild: boolean;
  /** Why a server-only feature is unavailable here, in one line; null when the server answers. */
  serverOnlyReason: string | null;
}

/** Reads the choice from the build, the address and the saved setting. */
export function chooseEngine(options: { staticBuild: boolean; search: string; saved: BackendKind; roomLink?: boolean }): EngineChoice {
  if (options.staticBuild) {
    return { kind: 'browser', staticBuild: true, serverOnlyReason: 'this copy of the app runs without a server (static build); rooms and the corpus index need `npm start`' };
  }
  const asked = new URLSearchParams(options.search).get('engine');
  const kind: BackendKind = options.roomLink ? 'server' : asked === 'browser' || asked === 'server' ? asked : options.saved;
  return {
    kind,
    staticBuild: false,
    serverOnlyReason: kind === 'browser' ? 'the model runs in this browser (Inference setting); rooms and the corpus index need inference on the server' : null,
  };
}

let current: EngineChoice = { kind: 'server', staticBuild: false, serverOnlyReason: null };

/** The page's choice (set once by main.tsx before anything connects). */
export function currentEngine(): EngineChoice {
  return current;
}

export function setCurrentEngine(choice: EngineChoice): void {
  current = choice;
}

/** The in-browser engine's device for this page: `?device=wasm|webgpu`, else WebGPU when the
 * browser has it (client/engine-worker/web-runtime.ts). */
export function browserDevice(search: string): 'auto' | 'wasm' | 'webgpu' {
  const asked = new URLSearchParams(search).get('device');
  return asked === 'wasm' || asked === 'webgpu' ? asked : 'auto';
}

/** WASM threads asked for with `?threads=N` (at most what the page allows), or null for the engine's choice. */
export function browserThreads(search: string): number | null {
  const asked = Number(new URLSearchParams(search).get('threads') ?? NaN);
  return Number.isInteger(asked) && asked >= 1 ? asked : null;
}

/** A model the page hands the engine instead of the bundled one (a dropped folder): file name → bytes. */
export interface PageModel {
  name: string;
  files: Record<string, ArrayBuffer>;
}

/**
 * The engine worker of this page, as a Backend (its options travel in the worker's name). With
 * `model`, the worker loads those files (transferred: the page must not use them afterwards).
 */
export function createBrowserBackend(model?: PageModel): Backend {
  const search = typeof location === 'undefined' ? '' : location.search;
  const options = { device: browserDevice(search), threads: browserThreads(search), model: model ? 'files' : 'bundled' };
  const worker = new Worker(new URL('../engine-worker/worker.ts', import.meta.url), { type: 'module', name: `circuits-engine ${JSON.stringify(options)}` });
  if (model) worker.postMessage({ kind: 'model-files', name: model.name, files: model.files } satisfies ModelFilesMessage, Object.values(model.files));
  return createWorkerBackend(worker);
}

/** The backend for a choice (a factory for createConnection). */
export function backendFor(choice: EngineChoice): () => Backend {
  return choice.kind === 'browser' ? () => createBrowserBackend() : () => createSocketBackend();
}
