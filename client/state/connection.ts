/**
 * The socket.io connection to the server (the page's own origin, websocket transport only) and
 * the request flows: model info, run a prompt, generate, cancel. Frames are decoded straight
 * into the activation store; the app store only learns discrete facts (a position is ready).
 */
import { io, type Socket } from 'socket.io-client';
import type {
  ClientToServerEvents,
  ErrorEvent,
  ModelInfo,
  Prediction,
  ServerToClientEvents,
  TokenInfo,
} from '../../shared/protocol.js';
import type { ActivationStore } from './activation-store.js';
import type { AppStore, StopReason } from './app-store.js';
import { decodeActivationFrame } from './frame-adapter.js';
import { createPacer } from './pacing.js';

export type CircuitsSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface Connection {
  socket: CircuitsSocket;
  runPrompt(prompt: string): Promise<void>;
  generate(prompt: string, maxTokens: number, temperature?: number): Promise<void>;
  cancel(): void;
  close(): void;
}

type AckResponse<T> = { ok: true; value: T } | { ok: false; error: ErrorEvent };

function unwrap<T>(response: AckResponse<T>): T {
  if (!response.ok) throw new Error(`${response.error.code}: ${response.error.message}`);
  return response.value;
}

export function createConnection(app: AppStore, activations: ActivationStore, url?: string): Connection {
  const socket: CircuitsSocket = io(url ?? window.location.origin, {
    transports: ['websocket'],
    reconnection: true,
    reconnectionDelay: 500,
    reconnectionDelayMax: 4000,
  });

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
  socket.on('disconnect', (reason) => {
    // A server that closed us on purpose is not retried by socket.io itself; we still want it.
    if (reason === 'io server disconnect') socket.connect();
    const interrupted = app.getState().runStatus !== 'idle';
    app.setState({
      connection: 'reconnecting',
      runStatus: interrupted ? 'error' : 'idle',
      error: interrupted ? 'connection lost during the run' : null,
    });
  });
  socket.io.on('reconnect_attempt', () => app.setState({ connection: 'reconnecting' }));
  socket.io.on('reconnect_failed', () => app.setState({ connection: 'disconnected' }));
  socket.on('connect_error', () => {
    // Still retrying (active) after a first failure: say so; given up: disconnected.
    app.setState({ connection: socket.active ? 'reconnecting' : 'disconnected' });
  });

  socket.on('server:status', (status) => {
    app.setState({ serverState: status.state, error: status.state === 'error' ? status.message ?? 'server error' : app.getState().error });
    if (status.state === 'ready' && !app.getState().model) fetchModelInfo();
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

  return {
    socket,
    runPrompt(prompt) {
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
    close() {
      socket.removeAllListeners();
      socket.io.removeAllListeners();
      socket.close();
    },
  };
}
