/**
 * The live feature stream's opt-in: 'features:subscribe' true makes this client's later run and
 * generate frames carry every layer's active transcoder features (socket-server.ts reads
 * socket.data.features); false (the default) keeps its frames neuron-only, byte for byte.
 * A server without transcoders answers in words.
 */
import type { ModelHost } from './model-host.js';
import { PayloadError } from './validate.js';
import type { HandlerKit } from './socket-server.js';

export function registerFeatureHandlers(kit: HandlerKit, host: ModelHost): void {
  kit.on('features:subscribe', true, (payload, ack) => {
    if (typeof payload !== 'boolean') throw new PayloadError('features:subscribe: expected true (send features) or false (neurons only)');
    if (payload && !host.transcoders) {
      throw new PayloadError('features:subscribe: this server has no transcoders loaded (start it with --transcoders DIR, or put them in the model\'s transcoders/ folder)');
    }
    kit.socket.data.features = payload;
    ack!({ ok: true, value: { subscribed: payload } });
  });
}
