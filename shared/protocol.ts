/**
 * The socket.io contract between server and client: typed event maps both sides import.
 * Request/response pairs use acknowledgements; streamed data (activation frames) are events
 * carrying binary frames encoded by `frame-codec.ts`. Types are not validation: the server
 * checks every payload at its edge (server/transport).
 *
 * Legend: L layers, N neurons per layer (d_mlp), H heads, T positions, V vocabulary.
 */

/** What the client needs to lay out the scene. */
import type { IndexStatus, NeuronDetails, NeuronExplanation, NeuronHistogram, NeuronRequest } from './neuron-index.js';

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
  /** The transcoders the server loaded (trace over features, live features), or absent. */
  transcoders?: TranscoderInfo | null;
  /** Where the model runs when that is not the server: e.g. "in this browser: WASM, 4 threads". */
  runtime?: string;
  /** Why it runs there rather than where asked (e.g. WebGPU fell back to WASM), in words. */
  runtimeNotice?: string | null;
  /** How long the in-browser engine took to start, by step: "loaded in 6.1 s: files 0.4 s, …". */
  runtimeLoad?: string;
}

/** A loaded transcoder set, as `model:info` describes it. */
export interface TranscoderInfo {
  /** The directory or config file it was read from. */
  source: string;
  /** `model_name` from its config, when it has one. */
  modelName: string | null;
  /** [L] features of each layer's transcoder. */
  featuresPerLayer: number[];
  /** 'relu' | 'jumprelu' | 'topk (k = …)'. */
  activation: string;
  inputHook: string;
  outputHook: string;
  /** Every layer has a skip connection (W_skip). */
  skip: boolean;
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

/** The question every analysis answers: why the target rather than the distractor? */
export interface QuestionRequest {
  prompt: string;
  target: string;
  distractor: string;
}

export interface TokenEffect {
  pos: number;
  /** Gradient × input on the token embedding (the primary measure). */
  gradXInput: number;
  /** Δ(prompt) − Δ(prompt without this token): the cross-check. */
  occlusion: number;
}

/** A component's effect on Δ: kind 'neuron' (layer, index = neuron), 'head' (layer, index = head),
 * 'embed' | 'pos_embed' | 'bias'. `pos` is set for total effects. */
export interface ComponentEffect {
  kind: 'neuron' | 'head' | 'embed' | 'pos_embed' | 'bias';
  layer: number;
  index: number;
  pos?: number;
  value: number;
}

export interface EffectsResult {
  runId: string;
  tokens: TokenInfo[];
  target: TokenInfo;
  distractor: TokenInfo;
  /** How target and distractor tokenize after the prompt (the first token is used). */
  targetTokens: TokenInfo[];
  distractorTokens: TokenInfo[];
  warnings: string[];
  /** Δ = logit[P, target] − logit[P, distractor]. */
  logitDiff: number;
  /** Terms of Δ no component carries (final-norm offset, unembedding bias). */
  constant: number;
  tokenEffects: TokenEffect[];
  /** The 40 components raising Δ most and the 40 lowering it most, by direct effect at P. */
  direct: ComponentEffect[];
  /** Likewise by total effect (activation × gradient), over every position. */
  total: ComponentEffect[];
  /** [L * N] float32: every neuron's direct effect at P (for sizing neurons in the clouds). */
  neuronDirect: ArrayBuffer;
  /** [L * N] float32: every neuron's total effect summed over positions. */
  neuronTotal: ArrayBuffer;
  /** With transcoders loaded: the active features at P with the largest |direct effect| on Δ
   * (at most 40), and per layer what the features do not carry of the MLP's direct effect. */
  features?: {
    direct: FeatureEffect[];
    layers: { layer: number; mlp: number; rest: number; error: number }[];
    /** The same features' total effects, activation × gradient of Δ (real backward), at every
     * position: the strongest raising and lowering Δ (at most 40). */
    total?: FeatureEffect[];
  };
}

/** One transcoder feature, explained on demand from a scan of the corpus ('feature:details'). */
export interface FeatureDetails {
  layer: number;
  index: number;
  /** `blocks.{layer}.transcoder` feature `index`. */
  hook: string;
  /** What it writes, per unit of activation, read through the final norm's γ and the unembedding. */
  promoted: { token: TokenInfo; value: number }[];
  suppressed: { token: TokenInfo; value: number }[];
  /** The scan: corpus name, tokens scored, share of them where the feature fired, largest and mean
   * activation where it fired. */
  corpus: string;
  tokensScanned: number;
  activeShare: number;
  maxActivation: number;
  meanActive: number;
  /** The contexts where it fired most: tokens around the maximum and the feature's activation on each. */
  examples: FeatureExample[];
  /** Its activation over every scanned token (zeros included), in the neuron index's histogram format. */
  histogram: NeuronHistogram;
  /** Where it fired: the activation at each quantile of its active tokens (the neuron index's
   * QUANTILES), with the context of that token as an example. */
  quantiles: { quantile: number; value: number; example: FeatureExample }[];
  /** An imported explanation of this feature (Neuronpedia-style import), when there is one. */
  explanation?: NeuronExplanation | null;
  /** 'index': read from the stored corpus index (built with the neuron index over its whole
   * budget; examples and quantiles are contexts, by their maximum); 'scan': scanned on demand
   * over the first tokens of the corpus (examples and quantiles are tokens). */
  source?: 'index' | 'scan';
}

/** A corpus context around a token: tokens, the feature's activation on each, the token's index `at`;
 * from the stored index also which corpus context and the token's position in it. */
export interface FeatureExample { tokens: TokenInfo[]; activations: number[]; max: number; at: number; context?: number; position?: number }

/** A transcoder feature's effect on Δ: feature `index` of `layer` at position `pos`. */
export interface FeatureEffect {
  layer: number;
  index: number;
  pos: number;
  activation: number;
  value: number;
}

export interface GraphRequest extends QuestionRequest {
  /** Neuron nodes to expand (default 200, at most 2000; neuron graphs only). */
  maxNodes?: number;
  /** The graph's units: MLP neurons (default) or the loaded transcoders' features (every
   * active feature is a node; replacement and completeness scores in the graph's metadata). */
  over?: 'neurons' | 'features';
}

export interface GraphResult {
  runId: string;
  /**
   * The graph in the Neuronpedia JSON shape (text); the client prunes it live. The whole graph
   * when it has at most `sent.linkBudget` links; otherwise the graph pruned at the default
   * thresholds (node 0.8, edge 0.98, the edge threshold lowered until the links fit the budget).
   * The server keeps the whole graph of each client's last trace for 'analysis:graph-node'.
   */
  graph: string;
  warnings: string[];
  /** Size of the whole graph. */
  full: { nodes: number; links: number };
  /** What `graph` holds: whether it was pruned, its size, the link budget and edge threshold used. */
  sent: { pruned: boolean; nodes: number; links: number; linkBudget: number; edgeThreshold: number };
}

/** A node of the client's last traced graph (node ids as in GraphResult.graph). */
export interface GraphNodeRequest {
  runId: string;
  nodeId: string;
}

/** Every edge of the whole graph into and out of one node. */
export interface GraphNodeEdges {
  runId: string;
  nodeId: string;
  incoming: { source: string; weight: number }[];
  outgoing: { target: string; weight: number }[];
}

export interface ErrorEvent {
  /** Machine-readable: 'bad_request' | 'too_long' | 'busy' | 'cancelled' | 'internal' | 'no_model'. */
  code: string;
  /** What was wrong, for a human. */
  message: string;
  /** The request this answers, when known. */
  runId?: string;
}

/**
 * Presentation rooms (server/rooms). A room's shared state is a JSON snapshot the controller
 * (presenter) updates with partial 'room:state' updates; the server merges, validates, stores and
 * relays it. Every key is optional; unknown keys are refused.
 */
export interface RoomState {
  prompt?: string;
  target?: string;
  distractor?: string;
  /** Selected position (token index), null when none. */
  position?: number | null;
  /** Selected neuron/head/node, as the client describes it. */
  selection?: Record<string, unknown> | null;
  /** The analysis question's state (e.g. which result is shown). */
  question?: Record<string, unknown> | null;
  /** Circuit view: pins, supernodes, pruning thresholds. */
  circuit?: Record<string, unknown> | null;
  /** Open panels, by name. */
  panels?: string[];
  camera?: CameraPose | null;
  /** The caption of the tour beat the presenter shows (null: none, e.g. the tour was closed). */
  caption?: string | null;
}

export interface CameraPose {
  position: [number, number, number];
  /** Where the camera looks. */
  target: [number, number, number];
  /** In VR: the presenter's controllers (for the avatar's hands). */
  hands?: [number, number, number][];
  /** The presenter is in a headset (followers' headsets show an avatar; desktops follow the view). */
  vr?: boolean;
}

/** The presenter's laser: a ray (origin, direction) or a point hit in the scene. */
export interface PointerPose {
  origin: [number, number, number];
  direction: [number, number, number];
  /** Where the ray hits content, when it does. */
  hit?: [number, number, number] | null;
}

/** What 'room:open' answers: links as query strings for the page's own address. */
/** Where other devices can reach this server (for the audience link and its QR code). */
export interface RoomNetwork {
  /** The server listens on this machine only (127.0.0.1, ::1, localhost): phones cannot reach it. */
  loopbackOnly: boolean;
  /** The addresses it listens on that other devices can use (IPv4 first); empty when loopback only. */
  addresses: string[];
}

export interface RoomOpened {
  room: string;
  /** Where phones can reach the server (absent from older servers). */
  network?: RoomNetwork;
  /** `?room=…&control=…` (plus the access token when the server has one): the presenter's link. */
  presenterQuery: string;
  /** `?room=…`: the audience's link; it carries no control token. */
  audienceQuery: string;
}

/** Sent to a socket as it joins a room (at connection: socket.io `auth: { room, control? }`). */
export interface RoomJoined {
  room: string;
  /** This socket's member id in the room (what 'room:hand' names). */
  memberId: string;
  /** Holds the room's control token (may take control back at any time). */
  owner: boolean;
  /** Member id of whoever drives now. */
  controller: string | null;
  state: RoomState;
  version: number;
  /** To the owner: where phones can reach the server (the audience link after a reload). */
  network?: RoomNetwork;
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
  /** How a text tokenizes (for validating target and distractor as the user types). */
  tokenize: (text: string, ack: Ack<TokenInfo[]>) => void;
  /** Direct, total and token effects on Δ for (prompt, target, distractor). */
  'analysis:effects': (request: QuestionRequest, ack: Ack<EffectsResult>) => void;
  /** The attribution graph; 'analysis:progress' events report progress; 'run:cancel' stops it. */
  'analysis:graph': (request: GraphRequest, ack: Ack<GraphResult>) => void;
  /** All edges of one node of the client's last traced graph (the sent graph may be pruned). */
  'analysis:graph-node': (request: GraphNodeRequest, ack: Ack<GraphNodeEdges>) => void;
  /** A neuron's explanation data: logit effects always, corpus examples and statistics once the
   * index is built, an imported explanation when there is one. */
  'neuron:details': (request: NeuronRequest, ack: Ack<NeuronDetails>) => void;
  /** Opt in (true) or out of the live feature stream: while on, this client's run and generate
   * frames carry each layer's active transcoder features (frame-codec.ts's sparse section). */
  'features:subscribe': (on: boolean, ack: Ack<{ subscribed: boolean }>) => void;
  /** A transcoder feature's explanation, computed on demand by scanning part of the corpus (a
   * scheduler job; 'analysis:progress' reports it). */
  'feature:details': (request: { layer: number; index: number }, ack: Ack<FeatureDetails>) => void;
  /** The corpus index's state; changes arrive as 'index:progress' events. */
  'index:status': (ack: Ack<IndexStatus>) => void;
  /** Starts (or resumes) building the index when it is neither ready nor building. */
  'index:build': (ack: Ack<IndexStatus>) => void;
  /** Stops a running build; what it finished is kept and the next build resumes from it. */
  'index:cancel': (ack: Ack<IndexStatus>) => void;
  /** Opens a presentation room with this socket as its owner and presenter (operator only). */
  'room:open': (ack: Ack<RoomOpened>) => void;
  /** Merges a partial update into the room's shared state (controller only); answers the version. */
  'room:state': (update: RoomState, ack: Ack<{ version: number }>) => void;
  /** The presenter's pointer and camera, relayed as volatile emits under a rate limit (controller only). */
  'room:pointer': (pointer: PointerPose | null) => void;
  'room:camera': (pose: CameraPose) => void;
  /** Hands control to another member (owner or current controller). */
  'room:hand': (memberId: string, ack: Ack<{ controller: string }>) => void;
  /** The owner takes control back. */
  'room:take': (ack: Ack<{ controller: string }>) => void;
  /** Sends this member the room's last run and analysis results as they were sent live (late joiners, reconnects). */
  'room:replay': () => void;
  /** The room's members, on every server process (owner or controller only: whom to hand control to). */
  'room:members': (ack: Ack<{ members: { id: string; owner: boolean; controller: boolean }[] }>) => void;
}

export interface ServerToClientEvents {
  /** One position's activation frame (binary, see frame-codec.ts). */
  'run:frame': (runId: string, frame: ArrayBuffer) => void;
  /**
   * A generated token, the predictions it was chosen from, and the activation frame of the
   * position it occupies (null when the client's connection is backed up: tokens are never
   * dropped, frames may be), then the predictions after this token (the next step's choice).
   */
  'generate:token': (runId: string, token: TokenInfo, predictions: Prediction[], frame: ArrayBuffer | null, next: Prediction[]) => void;
  'generate:done': (runId: string, reason: 'length' | 'eos' | 'cancelled' | 'context') => void;
  /** Progress of a long analysis job (attribution graph): done of total units of real work
   * (exploration, assembly, pruning and export), reaching total just before the ack. */
  'analysis:progress': (runId: string, done: number, total: number) => void;
  /** The corpus index's state, sent to every client as a build progresses and when it ends. */
  'index:progress': (status: IndexStatus) => void;
  /** Errors not tied to an ack (streams, malformed events). */
  error: (error: ErrorEvent) => void;
  'server:status': (status: { state: 'loading' | 'ready' | 'error'; message?: string }) => void;
  /** This socket joined a room: the current snapshot at once (late joiners, reconnects). */
  'room:joined': (joined: RoomJoined) => void;
  /** The room's whole shared state after each update. */
  'room:state': (state: RoomState, version: number) => void;
  'room:pointer': (pointer: PointerPose | null) => void;
  'room:camera': (pose: CameraPose) => void;
  'room:control': (controller: string) => void;
  /** The answer the presenter got for a shared action ('run:prompt', 'generate:start',
   * 'analysis:effects', 'analysis:graph'), relayed to the rest of the room. */
  'room:result': (event: string, value: unknown) => void;
}

export interface InterServerEvents {}

export interface SocketData {
  clientId: string;
  /** The presentation room this socket is in, if any. */
  room?: string;
  /** Whether it joined with the room's control token. */
  roomOwner?: boolean;
  /** This client asked for live transcoder features in its frames ('features:subscribe'). */
  features?: boolean;
}
