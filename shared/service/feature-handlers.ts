/**
 * Transcoder-feature events, the same on both backends:
 * - 'features:subscribe': true makes this client's later run and generate frames carry every
 *   layer's active transcoder features (the run handlers read socket.data.features); false (the
 *   default) keeps its frames neuron-only, byte for byte;
 * - 'feature:details': one feature's details, validated here (layer and index in range) and
 *   answered by `details`: on the server from the corpus index or a corpus scan
 *   (server/transport/feature-handlers.ts); the in-browser engine has no corpus and passes none,
 *   so the page hears why in words.
 * Feature traces and graphs ('analysis:graph' over features) are analysis-handlers.ts'.
 * A host without transcoders answers both in words.
 */
import type { AckFn, HandlerKit } from './handlers.js';
import type { ModelHost } from './model-host.js';
import { checkObject, PayloadError } from './validate.js';

/** Answers one validated 'feature:details' request (the host has transcoders; layer and index are in range). */
export type FeatureDetailsSource = (kit: HandlerKit, request: { layer: number; index: number }, ack: AckFn) => void;

export interface FeatureHandlerOptions {
  /** Where feature details come from; without it 'feature:details' says they need the corpus index. */
  details?: FeatureDetailsSource;
  /** Why there are no features, when the host has no transcoders (after "features:subscribe: "). */
  noTranscoders?: string;
}

export const NO_TRANSCODERS = 'this server has no transcoders loaded (start it with --transcoders DIR, or put them in the model\'s transcoders/ folder)';
/** `noTranscoders` for the in-browser engine when the model's folder has none. */
export const NO_TRANSCODERS_IN_BROWSER = 'this model has no transcoders (the in-browser engine loads them from the model\'s transcoders/ folder)';
export const NO_FEATURE_DETAILS = 'feature details need the corpus index, which the in-browser engine does not have (run npm start)';

export function registerFeatureHandlers(kit: HandlerKit, host: ModelHost, options: FeatureHandlerOptions = {}): void {
  const noTranscoders = options.noTranscoders ?? NO_TRANSCODERS;
  kit.on('features:subscribe', true, (payload, ack) => {
    if (typeof payload !== 'boolean') throw new PayloadError('features:subscribe: expected true (send features) or false (neurons only)');
    if (payload && !host.transcoders) throw new PayloadError(`features:subscribe: ${noTranscoders}`);
    kit.socket.data.features = payload;
    ack!({ ok: true, value: { subscribed: payload } });
  });

  kit.on('feature:details', true, (payload, ack) => {
    const transcoders = host.transcoders;
    if (!transcoders) throw new PayloadError(`feature:details: ${noTranscoders}`);
    const L = transcoders.set.layers.length;
    const request = checkObject<{ layer: number; index: number }>('feature:details', payload, {
      layer: { kind: 'integer', min: 0, max: L - 1 },
      index: { kind: 'integer', min: 0, max: 2 ** 31 },
    });
    const F = transcoders.set.layers[request.layer]!.nFeatures;
    if (request.index >= F) throw new PayloadError(`feature:details: layer ${request.layer} has ${F} features (0..${F - 1}), asked for ${request.index}`);
    if (!options.details) throw new PayloadError(`feature:details: ${NO_FEATURE_DETAILS}`);
    options.details(kit, request, ack!);
  });
}
