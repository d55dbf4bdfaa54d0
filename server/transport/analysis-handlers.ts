/**
 * Socket handlers for the interpretability views: tokenization of target/distractor, effects
 * on Δ, and the attribution graph (with progress and cancellation). Analysis runs through the
 * same fair scheduler as everything else.
 */
import { AnalysisContext } from '../analysis/context.js';
import { computeEffects } from '../analysis/effects.js';
import { attributionGraph } from '../analysis/graph.js';
import { CancelledError } from '../analysis/attribution.js';
import { resolveQuestion } from '../analysis/question.js';
import type { ComponentEffect, EffectsResult, GraphRequest, QuestionRequest } from '../../shared/protocol.js';
import { exportGraph } from '../../shared/graph/io.js';
import type { ModelHost } from './model-host.js';
import type { Job } from './scheduler.js';
import { checkObject, PayloadError } from './validate.js';
import type { HandlerKit } from './socket-server.js';

const questionShape = {
  prompt: { kind: 'string', nonEmpty: true, max: 8000 },
  target: { kind: 'string', nonEmpty: true, max: 200 },
  distractor: { kind: 'string', nonEmpty: true, max: 200 },
} as const;

/** The `count` most positive and `count` most negative effects. */
function extremes(effects: ComponentEffect[], count: number): ComponentEffect[] {
  const sorted = [...effects].sort((a, b) => b.value - a.value);
  const top = sorted.slice(0, count).filter((e) => e.value > 0);
  const bottom = sorted.slice(-count).filter((e) => e.value < 0);
  return [...top, ...bottom];
}

export function registerAnalysisHandlers({ socket, on, scheduler, newRunId, toError }: HandlerKit, host: ModelHost, context: AnalysisContext): void {
  const { spec } = host.model.decoder;

  on('tokenize', true, (payload, ack) => {
    if (typeof payload !== 'string' || payload.length > 8000) throw new PayloadError('tokenize: expected a string of at most 8000 characters');
    ack!({ ok: true, value: host.model.tokenizer.encode(payload).map((id) => host.token(id)) });
  });

  on('analysis:effects', true, (payload, ack) => {
    const request = checkObject<QuestionRequest>('analysis:effects', payload, questionShape);
    const question = resolveQuestion(host.model.tokenizer, host.model.decoder, request);
    const runId = newRunId('effects');
    const job: Job = {
      id: runId, clientId: socket.id, cancelled: false,
      onCancel: () => ack!({ ok: false, error: { code: 'cancelled', message: 'analysis cancelled', runId } }),
      step: async () => {
        try {
          const effects = await computeEffects(context, question);
          const N = spec.dMlp;
          const neuronDirect = new Float32Array(spec.nLayers * N);
          const neuronTotal = new Float32Array(spec.nLayers * N);
          for (const e of effects.direct) if (e.kind === 'neuron') neuronDirect[e.layer * N + e.index] = e.value;
          for (const e of effects.total) if (e.kind === 'neuron') neuronTotal[e.layer * N + e.index]! += e.value;
          const value: EffectsResult = {
            runId,
            tokens: question.tokens.map((id) => host.token(id)),
            target: host.token(question.target),
            distractor: host.token(question.distractor),
            targetTokens: question.targetTokens.map((id) => host.token(id)),
            distractorTokens: question.distractorTokens.map((id) => host.token(id)),
            warnings: question.warnings,
            logitDiff: effects.logit_diff,
            constant: effects.constant,
            tokenEffects: effects.token_effects.map((t) => ({ pos: t.pos, gradXInput: t.grad_x_input, occlusion: t.occlusion })),
            direct: extremes(effects.direct, 40),
            total: extremes(effects.total, 40),
            neuronDirect: neuronDirect.buffer,
            neuronTotal: neuronTotal.buffer,
          };
          if (!job.cancelled) ack!({ ok: true, value });
        } catch (error) {
          if (!job.cancelled) ack!({ ok: false, error: toError(error, runId) });
        }
        return false;
      },
    };
    scheduler.submit(job);
  });

  on('analysis:graph', true, (payload, ack) => {
    const request = checkObject<GraphRequest>('analysis:graph', payload, {
      ...questionShape, maxNodes: { kind: 'integer', optional: true, min: 1, max: 2000 },
    });
    const question = resolveQuestion(host.model.tokenizer, host.model.decoder, request);
    const runId = newRunId('graph');
    const job: Job = {
      id: runId, clientId: socket.id, cancelled: false,
      onCancel: () => ack!({ ok: false, error: { code: 'cancelled', message: 'graph cancelled', runId } }),
      step: async () => {
        try {
          const graph = await attributionGraph(context, question, {
            scan: host.name, prompt: request.prompt, maxNodes: request.maxNodes ?? 200, nodeThreshold: 0.8, edgeThreshold: 0.98,
            onProgress: (done, total) => socket.emit('analysis:progress', runId, done, total),
            shouldCancel: () => job.cancelled,
          });
          ack!({ ok: true, value: { runId, graph: exportGraph(graph), warnings: question.warnings } });
        } catch (error) {
          if (!(error instanceof CancelledError)) ack!({ ok: false, error: toError(error, runId) });
        }
        return false;
      },
    };
    scheduler.submit(job);
  });
}
