/**
 * Transcoder-feature events:
 * - 'features:subscribe': true makes this client's later run and generate frames carry every
 *   layer's active transcoder features (socket-server.ts reads socket.data.features); false (the
 *   default) keeps its frames neuron-only, byte for byte;
 * - 'feature:details': one feature from the corpus index when it covers the loaded transcoders
 *   (source 'index', one read of its stored record), else explained on demand
 *   (transcoders/explain.ts, source 'scan'), a scheduler job scanning the first
 *   FEATURE_SCAN_TOKENS tokens of the neuron index's corpus, with progress and cancellation like
 *   the analyses.
 * A server without transcoders answers both in words.
 */
import type { CorpusDocuments } from '../neurons/corpus.js';
import { buildContexts, type CorpusContexts } from '../neurons/contexts.js';
import { featureDetailsSteps } from '../transcoders/explain.js';
import type { ModelHost } from '../../shared/service/model-host.js';
import type { NeuronIndex } from '../neurons/service.js';
import { checkObject, PayloadError } from '../../shared/service/validate.js';
import type { HandlerKit } from '../../shared/service/handlers.js';
import { stepsJob } from '../../shared/service/analysis-handlers.js';
import { openCorpus } from '../neurons/corpus.js';

/** Corpus tokens one feature explanation scans (512 contexts of 64 tokens). */
export const FEATURE_SCAN_TOKENS = 32_768;

const noTranscoders = 'this server has no transcoders loaded (start it with --transcoders DIR, or put them in the model\'s transcoders/ folder)';
const scanContexts = new WeakMap<ModelHost, Promise<CorpusContexts>>();

function contextsFor(host: ModelHost, corpus: CorpusDocuments | undefined): Promise<CorpusContexts> {
  let contexts = scanContexts.get(host);
  if (!contexts) {
    contexts = buildContexts(corpus ?? openCorpus(), host.model.tokenizer, host.model.decoder.spec, {
      budget: FEATURE_SCAN_TOKENS, pause: () => new Promise((resolve) => setImmediate(resolve)),
    });
    contexts.catch(() => scanContexts.delete(host));
    scanContexts.set(host, contexts);
  }
  return contexts;
}

/** `neurons`: where imported explanations are looked up (its explanations.json holds features too). */
export function registerFeatureHandlers(kit: HandlerKit, host: ModelHost, corpus?: CorpusDocuments, neurons?: NeuronIndex): void {
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
    const stored = neurons?.featureDetails(request.layer, request.index);
    if (stored) {
      void neurons!.featureExplanation(request.layer, request.index).catch(() => null)
        .then((explanation) => ack!({ ok: true, value: { ...stored, explanation } }));
      return;
    }
    const runId = kit.newRunId('feature');
    async function* steps() {
      const contexts = await contextsFor(host, corpus);
      yield { phase: 'corpus', done: 0, total: 1 };
      const details = yield* featureDetailsSteps(host.model, host.runner, transcoders!.set, transcoders!.runner, contexts, request.layer, request.index);
      // An unreadable explanations file leaves the explanation out; the scan's answer still comes.
      details.explanation = neurons ? await neurons.featureExplanation(request.layer, request.index).catch(() => null) : null;
      return details;
    }
    kit.scheduler.submit(stepsJob(kit, runId, steps(), ack as never, 'feature details', {
      progress: ({ done, total }) => kit.socket.emit('analysis:progress', runId, done, total),
      done: (details) => ack!({ ok: true, value: details }),
    }));
  });
}
