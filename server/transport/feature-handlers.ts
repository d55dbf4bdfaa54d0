/**
 * Transcoder-feature events on the server: shared/service/feature-handlers.ts ('features:subscribe',
 * 'feature:details' validation), with feature details from the corpus:
 * one feature from the corpus index when it covers the loaded transcoders (source 'index', one
 * read of its stored record), else explained on demand (transcoders/explain.ts, source 'scan'), a
 * scheduler job scanning the first FEATURE_SCAN_TOKENS tokens of the neuron index's corpus, with
 * progress and cancellation like the analyses.
 */
import type { CorpusDocuments } from '../neurons/corpus.js';
import { buildContexts, type CorpusContexts } from '../neurons/contexts.js';
import { featureDetailsSteps } from '../transcoders/explain.js';
import type { ModelHost } from '../../shared/service/model-host.js';
import type { NeuronIndex } from '../neurons/service.js';
import type { HandlerKit } from '../../shared/service/handlers.js';
import { stepsJob } from '../../shared/service/analysis-handlers.js';
import { registerFeatureHandlers as registerSharedFeatureHandlers, type FeatureDetailsSource } from '../../shared/service/feature-handlers.js';
import { openCorpus } from '../neurons/corpus.js';

/** Corpus tokens one feature explanation scans (512 contexts of 64 tokens). */
export const FEATURE_SCAN_TOKENS = 32_768;

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

/** Feature details from the corpus index (`neurons`, whose explanations.json holds features too) or a scan of `corpus`. */
export function corpusFeatureDetails(host: ModelHost, corpus?: CorpusDocuments, neurons?: NeuronIndex): FeatureDetailsSource {
  return (kit, request, ack) => {
    const transcoders = host.transcoders!;
    const stored = neurons?.featureDetails(request.layer, request.index);
    if (stored) {
      void neurons!.featureExplanation(request.layer, request.index).catch(() => null)
        .then((explanation) => ack({ ok: true, value: { ...stored, explanation } }));
      return;
    }
    const runId = kit.newRunId('feature');
    async function* steps() {
      const contexts = await contextsFor(host, corpus);
      yield { phase: 'corpus', done: 0, total: 1 };
      const details = yield* featureDetailsSteps(host.model, host.runner, transcoders.set, transcoders.runner, contexts, request.layer, request.index);
      // An unreadable explanations file leaves the explanation out; the scan's answer still comes.
      details.explanation = neurons ? await neurons.featureExplanation(request.layer, request.index).catch(() => null) : null;
      return details;
    }
    kit.scheduler.submit(stepsJob(kit, runId, steps(), ack as never, 'feature details', {
      progress: ({ done, total }) => kit.socket.emit('analysis:progress', runId, done, total),
      done: (details) => ack({ ok: true, value: details }),
    }));
  };
}

/** The shared feature events with details from the corpus. */
export function registerFeatureHandlers(kit: HandlerKit, host: ModelHost, corpus?: CorpusDocuments, neurons?: NeuronIndex): void {
  registerSharedFeatureHandlers(kit, host, { details: corpusFeatureDetails(host, corpus, neurons) });
}
