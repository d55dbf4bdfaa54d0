/**
 * The connection to whoever answers (backend.ts: the socket.io server, or the in-browser engine
 * in a Web Worker) and the request flows: model info, run a prompt, generate, cancel. Frames are decoded straight
 * into the activation store; the app store only learns discrete facts (a position is ready).
 *
 * Access: the link `npm start` prints carries `?token=...`. The page keeps the token in
 * sessionStorage (a reload keeps it), removes it from the address bar (so it is not shared by
 * a screenshot or a copied link) and presents it in the socket's `auth`. A server's refusal
 * (no token, wrong origin, too many connections) reaches the status bar in words, and requests
 * the server would refuse for their size are stopped here with the reason.
 */
import { io } from 'socket.io-client';
import type { ErrorEvent, ModelInfo, Prediction, TokenInfo } from '../../shared/protocol.js';
import { isSocketBackend, socketBackend, type Backend } from './backend.js';
import type { ActivationStore } from './activation-store.js';
import type { AppStore, StopReason } from './app-store.js';
import { decodeActivationFrame } from './frame-adapter.js';
import { promptProblem, requestLimits } from '../../shared/limits.js';

const TOKEN_KEY = 'circuits-xr-token';

/** The access token from the page's URL (then removed from it) or from this tab's storage. */
export function takeAccessToken(location: Location = window.location, history: History = window.history, storage: Storage | null = safeSessionStorage()): string | null {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    storage?.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete('token');
    history.replaceState(history.state, '', `${url.pathname}${url.search}${url.hash}`);
    return fromUrl;
  }
  return storage?.getItem(TOKEN_KEY) ?? null;
}

function safeSessionStorage(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null; // storage disabled: the token lasts as long as the page
  }
}

/** Words for a failed connection: the server's own refusal, or what the transport said. */
function connectProblem(error: Error & { data?: { code?: string } }): string | null {
  if (error.data?.code) return error.message; // refused by the server, already in words
  return null;
}
import { createPacer } from './pacing.js';
import { SwitchableBackend } from './switchable-backend.js';

export type { Backend, CircuitsSocket } from './backend.js';

export interface Connection {
  /** Who answers (the server's socket, or the in-browser engine): views use only Backend's members. */
  backend: Backend;
  runPrompt(prompt: string): Promise<void>;
  generate(prompt: string, maxTokens: number, temperature?: number): Promise<void>;
  cancel(): void;
  close(): void;
  /**
   * Another answerer for this page from now on (a dropped model's engine worker): the old one is
   * closed (worker terminated), the run and the model are forgotten, and model:info is asked of
   * the new one when it connects. Only where the page runs the engine in the browser (no
   * socket.io manager to carry over); undefined otherwise.
   */
  replaceBackend?(next: Backend): void;
}

type AckResponse<T> = { ok: true; value: T } | { ok: false; error: ErrorEvent };

function unwrap<T>(response: AckResponse<T>): T {
  if (!response.ok) throw new Error(`${response.error.code}: ${response.error.message}`);
  return response.value;
}

/** The socket.io socket to the server at `url` (default: the page's own origin). */
export function createSocketBackend(url?: string, token: string | null = takeAccessToken()): Backend {
  return socketBackend(io(url ?? window.location.origin, {
    transports: ['websocket'],
    reconnection: true,
    reconnectionDelay: 500,
    reconnectionDelayMax: 4000,
    auth: token ? { token } : {},
  }));
}

export function createConnection(app: AppStore, activations: ActivationStore, backend: Backend | (() => Backend) = () => createSocketBackend()): Connection {
  const made: Backend = typeof backend === 'function' ? backend() : backend;
  // A worker's backend can be swapped at run time (switchable-backend.ts); the server's socket stays as it is.
  const switchable = isSocketBackend(made) ? null : new SwitchableBackend(made);
  const socket: Backend = switchable ?? made;

  const applyModel = (model: ModelInfo) => {
    // After a reconnect to the same model the shown run stays; another model starts afresh.
    const previous = app.getState().model;
    const changed = activations.configure({ nLayers: model.nLayers, neuronsPerLayer: model.neuronsPerLayer, nHeads: model.nHeads });
    if (changed || (previous && previous.name !== model.name)) {
      activations.reset();
      app.setState({ runId: null, tokens: [], predictions: [], framesReady: 0, position: 0, selection: null, grabbed: null });
    }
    app.setState({ model, serverState: 'ready' });
  };

  const fetchModelInfo = () => {
    socket.emit('model:info', (response) => {
      try {
        applyModel(unwrap(response));
      } catch (error) {
        app.setState({ error: (error as Error).message });
      }
    });
  };

  // A run's frames can arrive before its acknowledgement names the run: while a request is
  // pending, the first run id seen is adopted (one run is in flight per client).
  let pendingRun = false;

  const acceptFrame = (runId: string, buffer: ArrayBuffer): number | undefined => {
    let state = app.getState();
    if (pendingRun && state.runId === null) {
      app.setState({ runId });
      state = app.getState();
    }
    if (runId !== state.runId || !state.model) return undefined;
    try {
      const frame = decodeActivationFrame(buffer, state.model);
      activations.write(frame);
      return frame.position;
    } catch (error) {
      app.setState({ error: `bad frame: ${(error as Error).message}` });
      return undefined;
    }
  };

  socket.on('connect', () => {
    app.setState({ connection: 'connected' });
    fetchModelInfo();
  });
  socket.on('disconnect', (reason, details) => {
    // A server that closed us on purpose is not retried by socket.io itself; we still want it.
    if (reason === 'io server disconnect') socket.connect();
    const interrupted = app.getState().runStatus !== 'idle';
    // Websocket close code 1009: a message over the transport's limit (the checks below should
    // have stopped it; say what happened rather than only that the connection closed).
    const code = (details as { context?: { code?: number } } | undefined)?.context?.code;
    const tooBig = code === 1009 ? `the server closed the connection: a message was larger than it accepts (${requestLimits.transportBytes / 2 ** 20} MB)` : null;
    // The server's own explanation (an 'error' event just before it closed) stays shown.
    const explained = app.getState().error?.startsWith('bad_request: the server could not read') ? app.getState().error : null;
    app.setState({
      connection: 'reconnecting',
      runStatus: interrupted ? 'error' : 'idle',
      error: tooBig ?? explained ?? (interrupted ? 'connection lost during the run' : null),
    });
  });
  // socket.io's Manager reports its reconnection attempts (a worker has none).
  if (isSocketBackend(socket)) {
    socket.io.on('reconnect_attempt', () => app.setState({ connection: 'reconnecting' }));
    socket.io.on('reconnect_failed', () => app.setState({ connection: 'disconnected', error: app.getState().error ?? 'cannot reach the server (it may have stopped); reload the page to try again' }));
  }
  socket.on('connect_error', (error) => {
    // Refused by the server (token, origin, connection cap): socket.io does not retry, and the
    // reason is shown as the server wrote it. Otherwise still retrying: say so.
    const refusal = connectProblem(error as Error & { data?: { code?: string } });
    // A token the server rejects (an old link after a restart) is forgotten, so a reload of the
    // plain address connects as a viewer where the server allows one.
    if ((error as { data?: { code?: string } }).data?.code === 'unauthorized') safeSessionStorage()?.removeItem(TOKEN_KEY);
    if (refusal) app.setState({ connection: 'disconnected', error: refusal });
    else app.setState({ connection: socket.active ? 'reconnecting' : 'disconnected' });
  });

  socket.on('server:status', (status) => {
    app.setState({ serverState: status.state, error: status.state === 'error' ? status.message ?? 'server error' : app.getState().error });
    // A 'ready' with a message: something about the model changed (the in-browser engine fell
    // back to WASM, say); model:info says what, and the status bar shows it.
    if (status.state === 'ready' && (!app.getState().model || status.message)) fetchModelInfo();
  });

  socket.on('run:frame', (runId, frame) => {
    const position = acceptFrame(runId, frame);
    if (position === undefined) return;
    const state = app.getState();
    app.setState({
      framesReady: Math.max(state.framesReady, position + 1),
      position: state.followLive ? position : state.position,
      historyVersion: state.historyVersion + 1,
    });
  });

  // Generated tokens (and the end after them) are paced as the viewer chose (app.pacingMs).
  const pacer = createPacer(() => app.getState().pacingMs);
  socket.on('generate:token', pacer.wrap((runId: string, token: TokenInfo, predictions: Prediction[], frame: ArrayBuffer | null, next?: Prediction[]) => {
    // A client that falls behind gets the token without its frame (the server sends null).
    const position = frame ? acceptFrame(runId, frame) : undefined;
    if (runId !== app.getState().runId) return;
    const state = app.getState();
    const tokens = [...state.tokens, token];
    const ready = position === undefined ? state.framesReady : Math.max(state.framesReady, position + 1);
    app.setState({
      tokens,
      // The distribution after this token (what comes next), from servers that send it.
      predictions: next ?? predictions,
      framesReady: ready,
      position: state.followLive ? Math.max(0, ready - 1) : state.position,
      historyVersion: state.historyVersion + 1,
    });
  }));

  socket.on('generate:done', pacer.wrap((runId: string, reason: StopReason) => {
    if (runId !== app.getState().runId) return;
    app.setState({ runStatus: 'idle', stopReason: reason, error: reason === 'cancelled' ? null : app.getState().error });
  }));

  socket.on('error', (error) => {
    const { runId } = app.getState();
    if (error.runId && error.runId === runId) app.setState({ runStatus: 'error' });
    app.setState({ error: `${error.code}: ${error.message}` });
  });

  const startRun = () => {
    pacer.clear();
    activations.reset();
    app.setState({
      runStatus: 'running',
      runId: null,
      tokens: [],
      predictions: [],
      framesReady: 0,
      position: 0,
      followLive: true,
      playing: false,
      error: null,
      historyVersion: app.getState().historyVersion + 1,
      promptLength: null,
      stopReason: null,
    });
  };

  /** Stops a request the server would refuse for its size, with the reason; true when it may go. */
  const checkPrompt = (prompt: string): boolean => {
    const problem = promptProblem(prompt);
    if (problem === null) return true;
    app.setState({ runStatus: 'error', error: `too_long: ${problem}` });
    return false;
  };

  return {
    backend: socket,
    runPrompt(prompt) {
      if (!checkPrompt(prompt)) return Promise.resolve();
      startRun();
      // Frames for this run arrive before the ack, so accept the run id they carry once the
      // ack confirms it; until then keep the first run id we see (a single run is in flight).
      pendingRun = true;
      return new Promise((resolve) => {
        socket.emit('run:prompt', { prompt, topK: 10 }, (response) => {
          pendingRun = false;
          if (!response.ok) {
            app.setState({ runStatus: 'error', error: `${response.error.code}: ${response.error.message}` });
          } else {
            const { runId, tokens, predictions } = response.value;
            const state = app.getState();
            app.setState({
              runId,
              tokens,
              predictions,
              runStatus: 'idle',
              position: state.followLive ? Math.max(0, tokens.length - 1) : state.position,
            });
          }
          resolve();
        });
      });
    },
    generate(prompt, maxTokens, temperature = 0) {
      if (!checkPrompt(prompt)) return Promise.resolve();
      if (maxTokens > requestLimits.maxTokens) {
        app.setState({ runStatus: 'error', error: `bad_request: ${maxTokens} tokens asked; the server generates at most ${requestLimits.maxTokens} at a time` });
        return Promise.resolve();
      }
      startRun();
      pendingRun = true;
      return new Promise((resolve) => {
        socket.emit('generate:start', { prompt, maxTokens, temperature }, (response) => {
          pendingRun = false;
          if (!response.ok) {
            app.setState({ runStatus: 'error', error: `${response.error.code}: ${response.error.message}` });
          } else {
            const { runId, tokens } = response.value;
            // startRun cleared the rail, so any tokens already there were generated.
            const state = app.getState();
            app.setState({ runId, tokens: [...tokens, ...state.tokens], runStatus: 'generating', promptLength: tokens.length });
          }
          resolve();
        });
      });
    },
    cancel() {
      const { runId } = app.getState();
      pacer.flush(); // Stop shows what already arrived at once, not at the chosen pace
      // A paced generation may have finished on the server already: then there is nothing to stop.
      if (runId && app.getState().runStatus !== 'idle') socket.emit('run:cancel', runId);
    },
    ...(switchable ? {
      replaceBackend(next: Backend) {
        pacer.clear();
        pendingRun = false;
        switchable.replace(next);
        activations.reset();
        app.setState({
          connection: next.connected ? 'connected' : 'connecting', serverState: 'loading', model: null, error: null,
          runStatus: 'idle', runId: null, tokens: [], predictions: [], framesReady: 0, position: 0, selection: null, grabbed: null,
          promptLength: null, stopReason: null, historyVersion: app.getState().historyVersion + 1,
        });
        if (next.connected) fetchModelInfo();
      },
    } : {}),
    close() {
      socket.removeAllListeners();
      if (isSocketBackend(socket)) socket.io.removeAllListeners();
      socket.close();
    },
  };
}
