/**
 * Socket handlers for the interpretability views: tokenization of target/distractor, effects
 * on Δ, the attribution graph (with progress and cancellation) and a traced graph's node
 * edges on demand. Each analysis is a scheduler job of many short steps (analysis/steps.ts),
 * so other clients' runs and generations interleave with it and a cancel stops it at its
 * next step.
 */
import type { AnalysisContext } from '../analysis/context.js';
import { effectsSteps, extremeEffects } from '../analysis/effects.js';
import { graphSteps } from '../analysis/graph.js';
import { HeldGraph, holdGraph, releaseGraph } from '../analysis/graph-store.js';
import { resolveQuestion } from '../analysis/question.js';
import { relaySteps, type StepProgress, type Steps } from '../analysis/steps.js';
import type { EffectsResult, ErrorEvent, GraphNodeRequest, GraphRequest, GraphResult, QuestionRequest } from '../protocol.js';
import type { ModelHost } from './model-host.js';
import type { Job } from './scheduler.js';
import { checkObject, PayloadError } from './validate.js';
import { featureTraceSteps } from '../transcoders/graph-steps.js';
import { featureDirectEffects, type FeatureDirectEffects } from '../transcoders/effects.js';
import type { EffectArrays } from '../analysis/effects.js';
import type { HandlerKit } from './handlers.js';

const questionShape = {
  prompt: { kind: 'string', nonEmpty: true, max: 8000 },
  target: { kind: 'string', nonEmpty: true, max: 200 },
  distractor: { kind: 'string', nonEmpty: true, max: 200 },
} as const;

/** Links sent with a traced graph at most (the whole graph stays on the server). */
export const LINK_BUDGET = 15_000;

type AckFn<T> = (response: { ok: true; value: T } | { ok: false; error: ErrorEvent }) => void;

/**
 * Analyses run in the scheduler's analysis lane, beside everyone's runs and generations. Between
 * analyses of different clients: while others have work, an analysis takes at most
 * 1 / (1 + OTHERS_SHARE) of the lane's time: after a step of D ms it lets its turns pass until the others have had about
 * OTHERS_SHARE × D ms. Short interactive jobs (a generation is 17 short steps) then finish in
 * about (1 + 1/OTHERS_SHARE) × their time alone, however long the analysis. Alone, it never
 * waits: a turn that comes back within ALONE_MS means nobody else ran in between.
 */
const OTHERS_SHARE = 3;
const ALONE_MS = 1;
/** Wall time an analysis step aims at (rows per VJP call and occlusion batches adapt to it). */
const STEP_MS = 50;

/**
 * A scheduler job that runs `steps` one per scheduler turn (with the share above). Cancel acks
 * at once and closes the steps (releasing their buffers and any worker) once the step in
 * flight, if any, returns.
 */
export function stepsJob<R>(
  kit: HandlerKit, runId: string, steps: Steps<R>, ack: AckFn<never>, what: string,
  handlers: { progress?: (p: StepProgress) => void; done: (result: R) => void },
): Job {
  /** Time the others are owed before this job's next step, and when its last turn ended. */
  let owed = 0;
  let lastEnd = 0;
  const job: Job = {
    id: runId, clientId: kit.socket.id, cancelled: false, kind: 'analysis',
    onCancel: () => {
      ack({ ok: false, error: { code: 'cancelled', message: `${what} cancelled`, runId } });
      void steps.return(undefined as never).catch(() => undefined);
    },
    step: async () => {
      const now = performance.now();
      const othersRan = lastEnd === 0 ? 0 : now - lastEnd;
      if (othersRan > ALONE_MS && owed > othersRan) {
        owed -= othersRan;
        lastEnd = now;
        return true; // pass this turn: the others have not yet had their share
      }
      owed = 0;
      try {
        const next = await steps.next();
        owed = OTHERS_SHARE * (performance.now() - now);
        lastEnd = performance.now();
        if (job.cancelled) return false;
        if (next.done) {
          handlers.done(next.value);
          return false;
        }
        handlers.progress?.(next.value);
        return true;
      } catch (error) {
        if (!job.cancelled) ack({ ok: false, error: kit.toError(error, runId) });
        void steps.return(undefined as never).catch(() => undefined);
        return false;
      }
    },
  };
  return job;
}

/** The `count` features raising Δ most and the `count` lowering it most, in that order. */
function extremeFeatures(features: FeatureDirectEffects['features'], count: number): FeatureDirectEffects['features'] {
  const byValue = [...features].sort((a, b) => b.value - a.value);
  const raising = byValue.filter((f) => f.value > 0).slice(0, count);
  const lowering = byValue.filter((f) => f.value < 0).reverse().slice(0, count);
  return [...raising, ...lowering];
}

export function registerAnalysisHandlers(kit: HandlerKit, host: ModelHost, context: AnalysisContext): void {
  const { socket, on, scheduler, newRunId } = kit;
  const { spec } = host.model.decoder;
  /** The whole graph of this client's last trace, for 'analysis:graph-node'. */
  let lastGraph: HeldGraph | null = null;
  socket.on('disconnect', () => {
    releaseGraph(lastGraph);
    lastGraph = null;
  });

  on('tokenize', true, (payload, ack) => {
    if (typeof payload !== 'string' || payload.length > 8000) throw new PayloadError('tokenize: expected a string of at most 8000 characters');
    ack!({ ok: true, value: host.model.tokenizer.encode(payload).map((id) => host.token(id)) });
  });

  on('analysis:effects', true, (payload, ack) => {
    const request = checkObject<QuestionRequest>('analysis:effects', payload, questionShape);
    const question = resolveQuestion(host.model.tokenizer, host.model.decoder, request);
    const runId = newRunId('effects');
    const transcoders = host.transcoders;
    // With transcoders, one more short step: the features' direct effects at P (counted in the
    // progress total from the start, so progress never goes backwards).
    async function* withFeatures(): Steps<{ effects: EffectArrays; features: FeatureDirectEffects | null }> {
      const extra = transcoders ? 1 : 0;
      const { value: effects, last } = yield* relaySteps(effectsSteps(context, question, { stepMs: STEP_MS }), (p) => ({ ...p, total: p.total + extra }));
      const total = last.total;
      if (!transcoders) return { effects, features: null };
      yield { phase: 'features', done: total, total };
      return { effects, features: await featureDirectEffects(context, transcoders.set, transcoders.runner, question) };
    }
    scheduler.submit(stepsJob(kit, runId, withFeatures(), ack as AckFn<never>, 'analysis', {
      progress: ({ done, total }) => socket.emit('analysis:progress', runId, done, total),
      done: ({ effects, features }) => {
        const { nLayers: L, dMlp: N } = spec;
        const T = effects.tokens.length;
        const neuronTotal = new Float32Array(L * N);
        for (let l = 0; l < L; l++) {
          for (let p = 0; p < T; p++) {
            const row = (l * T + p) * N;
            for (let i = 0; i < N; i++) neuronTotal[l * N + i]! += effects.totalNeuron[row + i]!;
          }
        }
        const { direct, total } = extremeEffects(effects, 40);
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
          direct,
          total,
          neuronDirect: Float32Array.from(effects.directNeuron).buffer,
          neuronTotal: neuronTotal.buffer,
          ...(features ? { features: { direct: extremeFeatures(features.features, 20), layers: features.layers, total: extremeFeatures(features.total, 20) } } : {}),
        };
        ack!({ ok: true, value });
      },
    }));
  });

  on('analysis:graph', true, (payload, ack) => {
    const request = checkObject<GraphRequest>('analysis:graph', payload, {
      ...questionShape, maxNodes: { kind: 'integer', optional: true, min: 1, max: 2000 },
      over: { kind: 'string', optional: true, max: 20 },
    });
    if (request.over !== undefined && request.over !== 'neurons' && request.over !== 'features') {
      throw new PayloadError(`analysis:graph: "over" is "neurons" or "features", got ${JSON.stringify(request.over)}`);
    }
    if (request.over === 'features' && !host.transcoders) {
      throw new PayloadError(`analysis:graph: ${host.runtime ? 'this model has no transcoders here' : 'this server has no transcoders loaded'}, so it can only trace over neurons (${host.runtime ? 'put them in the model\'s transcoders/ folder' : 'start it with --transcoders DIR'})`);
    }
    const question = resolveQuestion(host.model.tokenizer, host.model.decoder, request);
    const runId = newRunId('graph');
    if (request.over === 'features') {
      const { set, runner } = host.transcoders!;
      const steps = featureTraceSteps(context, set, runner, question, {
        scan: host.name, prompt: request.prompt, nodeThreshold: 0.8, edgeThreshold: 0.98, linkBudget: LINK_BUDGET, stepMs: STEP_MS,
      });
      let reported = -1;
      scheduler.submit(stepsJob(kit, runId, steps, ack as AckFn<never>, 'graph', {
        progress: ({ done, total }) => {
          if (done === reported) return;
          reported = done;
          socket.emit('analysis:progress', runId, done, total);
        },
        done: ({ raw, ids, text, sent }) => {
          releaseGraph(lastGraph);
          lastGraph = new HeldGraph(runId, raw, ids);
          holdGraph(lastGraph);
          const value: GraphResult = { runId, graph: text, warnings: question.warnings, full: { nodes: raw.nodes.length, links: raw.weights.length }, sent };
          ack!({ ok: true, value });
        },
      }));
      return;
    }
    const steps = graphSteps(context, question, {
      scan: host.name, prompt: request.prompt, maxNodes: request.maxNodes ?? 200, nodeThreshold: 0.8, edgeThreshold: 0.98, linkBudget: LINK_BUDGET, stepMs: STEP_MS,
    });
    let reported = -1;
    scheduler.submit(stepsJob(kit, runId, steps, ack as AckFn<never>, 'graph', {
      progress: ({ done, total }) => {
        if (done === reported) return; // polling steps of the pruning worker repeat the count
        reported = done;
        socket.emit('analysis:progress', runId, done, total);
      },
      done: ({ raw, text, sent }) => {
        // The next trace replaces this client's held graph.
        releaseGraph(lastGraph);
        lastGraph = new HeldGraph(runId, raw, spec.nLayers);
        holdGraph(lastGraph);
        const value: GraphResult = { runId, graph: text, warnings: question.warnings, full: { nodes: raw.nodes.length, links: raw.weights.length }, sent };
        ack!({ ok: true, value });
      },
    }));
  });

  on('analysis:graph-node', true, (payload, ack) => {
    const request = checkObject<GraphNodeRequest>('analysis:graph-node', payload, {
      runId: { kind: 'string', nonEmpty: true, max: 100 },
      nodeId: { kind: 'string', nonEmpty: true, max: 100 },
    });
    const graph = lastGraph;
    if (!graph || graph.runId !== request.runId || graph.released) {
      const why = graph && !graph.released ? `your last traced graph is ${graph.runId}` : 'the server no longer holds a graph of yours (trace again)';
      ack!({ ok: false, error: { code: 'bad_request', message: `analysis:graph-node: no graph ${request.runId}: ${why}`, runId: request.runId } });
      return;
    }
    const edges = graph.edgesOf(request.nodeId);
    if (!edges) {
      ack!({ ok: false, error: { code: 'bad_request', message: `analysis:graph-node: graph ${request.runId} has no node "${request.nodeId}"`, runId: request.runId } });
      return;
    }
    ack!({ ok: true, value: edges });
  });
}
