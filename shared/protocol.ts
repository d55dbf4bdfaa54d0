/**
 * The socket.io contract between server and client: typed event maps both sides import.
 * Request/response pairs use acknowledgements; streamed data (activation frames) are events
 * carrying binary frames encoded by `frame-codec.ts`. Types are not validation: the server
 * checks every payload at its edge (server/transport).
 *
 * Legend: L layers, N neurons per layer (d_mlp), H heads, T positions, V vocabulary.
 */

/** What the client needs to lay out the scene. */
export interface ModelInfo {
  name: string;
  architecture: string;
  nLayers: number;
  /** MLP neurons per layer (d_mlp). */
  neuronsPerLayer: number;
  nHeads: number;
  dModel: number;
  vocabSize: number;
  contextLength: number;
  /** The hook each neuron cloud shows, per layer: `blocks.{l}.mlp.hook_post`. */
  neuronHook: string;
}

export interface TokenInfo {
  id: number;
  /** Printable text of the token. */
  text: string;
}

export interface Prediction {
  id: number;
  text: string;
  prob: number;
  logit: number;
}

export interface RunRequest {
  prompt: string;
  /** How many top predictions to return at the last position (default 10, max 50). */
  topK?: number;
}

export interface RunResult {
  runId: string;
  tokens: TokenInfo[];
  /** Top predictions after the last position. */
  predictions: Prediction[];
}

export interface GenerateRequest {
  prompt: string;
  maxTokens: number;
  /** 0 = greedy. */
  temperature?: number;
  topK?: number;
}

export interface GenerateStarted {
  runId: string;
  tokens: TokenInfo[];
}

export interface ErrorEvent {
  /** Machine-readable: 'bad_request' | 'too_long' | 'busy' | 'cancelled' | 'internal' | 'no_model'. */
  code: string;
  /** What was wrong, for a human. */
  message: string;
  /** The request this answers, when known. */
  runId?: string;
}

export type Ack<T> = (response: { ok: true; value: T } | { ok: false; error: ErrorEvent }) => void;

export interface ClientToServerEvents {
  'model:info': (ack: Ack<ModelInfo>) => void;
  /** Runs the prompt; frames for every position arrive as 'run:frame' events, then the ack.
   * 'generate:start' also streams the prompt's frames as 'run:frame' before its ack. */
  'run:prompt': (request: RunRequest, ack: Ack<RunResult>) => void;
  /** Starts a generation; 'generate:token' events stream in, then 'generate:done'. */
  'generate:start': (request: GenerateRequest, ack: Ack<GenerateStarted>) => void;
  'run:cancel': (runId: string) => void;
  /** Vocabulary lookups: token ids → printable text. */
  'vocab:lookup': (ids: number[], ack: Ack<string[]>) => void;
}

export interface ServerToClientEvents {
  /** One position's activation frame (binary, see frame-codec.ts). */
  'run:frame': (runId: string, frame: ArrayBuffer) => void;
  /**
   * A generated token, the predictions it was chosen from, and the activation frame of the
   * position it occupies (null when the client's connection is backed up: tokens are never
   * dropped, frames may be).
   */
  'generate:token': (runId: string, token: TokenInfo, predictions: Prediction[], frame: ArrayBuffer | null) => void;
  'generate:done': (runId: string, reason: 'length' | 'eos' | 'cancelled' | 'context') => void;
  /** Errors not tied to an ack (streams, malformed events). */
  error: (error: ErrorEvent) => void;
  'server:status': (status: { state: 'loading' | 'ready' | 'error'; message?: string }) => void;
}

export interface InterServerEvents {}

export interface SocketData {
  clientId: string;
}
