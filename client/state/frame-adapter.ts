/**
 * Adapts the wire codec (shared/frame-codec.ts) to the activation store's frame shape, and
 * checks the frame matches the model the client laid out.
 */
import { decodeFrame } from '../../shared/frame-codec.js';
import type { ModelInfo } from '../../shared/protocol.js';
import type { ActivationFrame } from './activation-store.js';

export function decodeActivationFrame(buffer: ArrayBuffer, model: ModelInfo): ActivationFrame {
  const frame = decodeFrame(buffer);
  if (frame.nLayers !== model.nLayers || frame.neuronsPerLayer !== model.neuronsPerLayer) {
    throw new Error(
      `frame is ${frame.nLayers}×${frame.neuronsPerLayer}, model is ${model.nLayers}×${model.neuronsPerLayer}`,
    );
  }
  return {
    position: frame.position,
    tokenId: frame.tokenId,
    neurons: frame.neurons,
    scales: frame.scales,
    attention: frame.attention,
    features: frame.features,
  };
}
