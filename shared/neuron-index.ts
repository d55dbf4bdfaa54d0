/**
 * Neuron explanation data, as the server sends it: what makes a neuron fire (its top-activating
 * corpus contexts, examples from across its activation range, statistics and a histogram), what
 * it writes (the tokens its output weights promote and suppress through the unembedding), and an
 * imported natural-language explanation when one exists. The server's indexer builds it over a
 * corpus and stores it per model (see INTERP.md, "Neuron explanation data").
 *
 * A neuron is `blocks.{layer}.mlp.hook_post[index]`, the MLP post-activation.
 */
import type { TokenInfo } from './protocol.js';

export interface NeuronRequest {
  layer: number;
  /** The neuron's index within the layer (0..d_mlp-1). */
  index: number;
}

/** One corpus context in which the neuron fired. */
export interface NeuronExample {
  /** A window of the context's tokens, in order, ending a few tokens after the focus token. */
  tokens: TokenInfo[];
  /** The neuron's activation at each token of the window (stored quantised: within one step). */
  activations: number[];
  /** Index in `tokens` of the token this example is about (the context's maximum). */
  focus: number;
  /** The neuron's activation at the focus token (exact float32). */
  value: number;
  /** Which context of the indexed corpus (0-based), and the focus token's position in it. */
  context: number;
  position: number;
}

export interface NeuronStats {
  /** Tokens the index has seen (activations counted). */
  count: number;
  min: number;
  max: number;
  mean: number;
  /** Share of tokens with activation > 0. */
  frequency: number;
}

export interface NeuronHistogram {
  /** Bin edges, ascending: counts.length + 1 numbers. */
  edges: number[];
  /** Tokens whose activation fell in [edges[i], edges[i + 1]) (the last bin includes its top). */
  counts: number[];
}

/** A token the neuron's output pushes up (promoted) or down (suppressed), per unit activation. */
export interface LogitEffect {
  token: TokenInfo;
  value: number;
}

export interface NeuronExplanation {
  text: string;
  /** The explanation's score where the source gives one (OpenAI's: correlation of simulation). */
  score: number | null;
  /** Which imported file it came from. */
  source: string;
}

/** What the corpus index knows of one neuron. */
export interface IndexedNeuron {
  stats: NeuronStats;
  histogram: NeuronHistogram;
  /** The contexts with the highest maximum activation, highest first (k ≥ 20). */
  topExamples: NeuronExample[];
  /** Typical examples from across the neuron's active range: the example at each quantile. */
  quantileExamples: { quantile: number; example: NeuronExample }[];
}

export interface NeuronDetails {
  layer: number;
  index: number;
  /** `blocks.{layer}.mlp.hook_post`. */
  hook: string;
  /** From the weights alone, so present even before the index is built. */
  promoted: LogitEffect[];
  suppressed: LogitEffect[];
  /** Null until the model's corpus index is built (see `IndexStatus`). */
  indexed: IndexedNeuron | null;
  explanation: NeuronExplanation | null;
}

export type IndexState = 'absent' | 'building' | 'ready' | 'cancelled' | 'error';

/** The model's corpus index: whether it is there, and how far a build has come. */
export interface IndexStatus {
  state: IndexState;
  /** The corpus it is built over (a name for people) and its token budget. */
  corpus: string;
  /** Tokens processed so far, and in all. */
  done: number;
  total: number;
  /** Of the current build; 0 when none runs. */
  tokensPerSecond: number;
  /** Seconds left for the current build; null when unknown or none runs. */
  etaSeconds: number | null;
  /** Why it failed or was cancelled, for a human. */
  message?: string;
}
