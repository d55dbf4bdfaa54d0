/**
 * socket.io on the server's HTTP(S) server: one session per socket, every payload validated
 * at the edge, all model work through the fair scheduler. The only room that knows clients.
 */
import type { Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { ModelError } from '../engine/decoder.js';
import { seededRandom, pickToken } from '../engine/generate.js';
import type { IncrementalRun } from '../engine/runner.js';
import type {
  ClientToServerEvents, ErrorEvent, GenerateRequest, InterServerEvents, RunRequest, ServerToClientEvents, SocketData,
} from '../../shared/protocol.js';
import { AnalysisContext } from '../analysis/context.js';
import type { NeuronIndex } from '../neurons/service.js';
import { registerAnalysisHandlers } from './analysis-handlers.js';
import type { ModelHost } from './model-host.js';
import { connectNeuronIndex, registerNeuronHandlers } from './neuron-handlers.js';
import { Scheduler, type Job } from './scheduler.js';
import { checkIdList, checkObject, PayloadError } from './validate.js';

type ClientSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

export const limits = {
  promptCharacters: 8000,
  maxTokens: 1024,
  topK: 50,
  vocabLookup: 4096,
  /** Frames waiting in a client's socket buffer beyond which generation frames are skipped. */
  backlogPackets: 16,
};

let runCounter = 0;
const newRunId = (kind: string) => `${kind}-${++runCounter}`;

type OnHandler = (event: string, needsAck: boolean, handler: (payload: unknown, ack: AckFn | null) => void) => void;

/** What handler modules get: the socket, the validated-event helper, the scheduler. */
export interface HandlerKit {
  socket: ClientSocket;
  on: OnHandler;
  scheduler: Scheduler;
  newRunId: (kind: string) => string;
  toError: (error: unknown, runId?: string) => ErrorEvent;
}

/** `neurons`: the model's neuron index (details, builds through the scheduler, progress events). */
export function attachSocketServer(http: HttpServer, host: ModelHost, neurons?: NeuronIndex): { io: Server; scheduler: Scheduler } {
  const io = new Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>(http, {
    transports: ['websocket'],
    maxHttpBufferSize: 1 << 20,
  });
  const scheduler = new Scheduler();
  const analysis = new AnalysisContext(host.model, host.runner);
  const index = neurons ? connectNeuronIndex(io, scheduler, neurons, newRunId) : null;
  io.on('connection', (socket) => {
    socket.data.clientId = socket.id;
    socket.emit('server:status', { state: 'ready' });
    const kit = registerHandlers(socket, host, scheduler);
    registerAnalysisHandlers(kit, host, analysis);
    if (neurons && index) registerNeuronHandlers(kit, host, neurons, index.jobId);
    socket.on('disconnect', () => scheduler.cancelClient(socket.id));
  });
  return { io, scheduler };
}

function toError(error: unknown, runId?: string): ErrorEvent {
  if (error instanceof PayloadError) return { code: 'bad_request', message: error.message, runId };
  if (error instanceof ModelError) {
    const tooLong = /context window/.test(error.message);
    return { code: tooLong ? 'too_long' : 'bad_request', message: error.message, runId };
  }
  return { code: 'internal', message: `internal error: ${(error as Error)?.message ?? String(error)}`, runId };
}

function registerHandlers(socket: ClientSocket, host: ModelHost, scheduler: Scheduler): HandlerKit {
  const { contextLength, vocabSize } = host.model.decoder.spec;

  /** Wraps a handler: the last argument must be an acknowledgement function when `needsAck`. */
  const on: OnHandler = (event, needsAck, handler) => {
    socket.on(event as never, ((...args: unknown[]) => {
      const last = args[args.length - 1];
      const ack = typeof last === 'function' ? (last as AckFn) : null;
      const payloadArgs = ack ? args.slice(0, -1) : args;
      try {
        if (needsAck && !ack) throw new PayloadError(`${event}: an acknowledgement callback is required`);
        if (payloadArgs.length > 1) throw new PayloadError(`${event}: expected one payload, got ${payloadArgs.length} arguments`);
        handler(payloadArgs[0], ack);
      } catch (error) {
        const report = toError(error);
        if (ack) ack({ ok: false, error: report });
        else socket.emit('error', report);
      }
    }) as never);
  };

  on('model:info', true, (payload, ack) => {
    if (payload !== undefined) throw new PayloadError('model:info: takes no payload');
    ack!({ ok: true, value: host.info() });
  });

  on('vocab:lookup', true, (payload, ack) => {
    const ids = checkIdList('vocab:lookup', payload, vocabSize, limits.vocabLookup);
    ack!({ ok: true, value: ids.map((id) => host.model.tokenizer.tokenString(id)) });
  });

  on('run:cancel', false, (payload) => {
    if (typeof payload !== 'string') throw new PayloadError('run:cancel: expected a run id string');
    if (!scheduler.cancel(payload, socket.id)) socket.emit('error', { code: 'bad_request', message: `run:cancel: no running job ${payload}`, runId: payload });
  });

  const encodePrompt = (event: string, prompt: string): number[] => {
    const tokens = host.model.tokenizer.encode(prompt);
    if (tokens.length === 0) throw new PayloadError(`${event}: the prompt encodes to no tokens`);
    if (tokens.length > contextLength) throw new ModelError(`${event}: the prompt is ${tokens.length} tokens, longer than the context window of ${contextLength}`);
    return tokens;
  };

  on('run:prompt', true, (payload, ack) => {
    const request = checkObject<RunRequest>('run:prompt', payload, {
      prompt: { kind: 'string', nonEmpty: true, max: limits.promptCharacters },
      topK: { kind: 'integer', optional: true, min: 1, max: limits.topK },
    });
    const tokens = encodePrompt('run:prompt', request.prompt);
    const runId = newRunId('run');
    const job: Job = {
      id: runId, clientId: socket.id, cancelled: false,
      onCancel: () => ack!({ ok: false, error: { code: 'cancelled', message: 'run cancelled', runId } }),
      step: async () => {
        try {
          const { logits, cache } = await host.runner.run([tokens], { hooks: host.frameHooks });
          if (job.cancelled) return false;
          tokens.forEach((id, t) => socket.emit('run:frame', runId, toArrayBuffer(host.frame(cache, t, 0, id))));
          const V = vocabSize;
          const last = logits.data.subarray((tokens.length - 1) * V, tokens.length * V);
          ack!({ ok: true, value: { runId, tokens: tokens.map((id) => host.token(id)), predictions: host.predictions(last, request.topK ?? 10) } });
        } catch (error) {
          ack!({ ok: false, error: toError(error, runId) });
        }
        return false;
      },
    };
    scheduler.submit(job);
  });

  on('generate:start', true, (payload, ack) => {
    const request = checkObject<GenerateRequest>('generate:start', payload, {
      prompt: { kind: 'string', nonEmpty: true, max: limits.promptCharacters },
      maxTokens: { kind: 'integer', min: 1, max: limits.maxTokens },
      temperature: { kind: 'number', optional: true, min: 0, max: 10 },
      topK: { kind: 'integer', optional: true, min: 0, max: vocabSize },
    });
    const prompt = encodePrompt('generate:start', request.prompt);
    const runId = newRunId('gen');
    const random = seededRandom(runCounter);
    const maxTokens = Math.min(request.maxTokens, contextLength - prompt.length);
    const eos = host.model.tokenizer.eosId;
    let run: IncrementalRun | null = null;
    let lastLogits: Float32Array | null = null;
    let produced = 0;
    /** The newest frame held back from a client that could not keep up (encoded only if it is
     * still the newest at the end), sent before generate:done. */
    let heldBack: (() => ArrayBuffer) | null = null;
    const done = (reason: 'length' | 'eos' | 'cancelled' | 'context') => {
      if (heldBack && reason !== 'cancelled') socket.emit('run:frame', runId, heldBack());
      heldBack = null;
      socket.emit('generate:done', runId, reason);
    };
    const job: Job = {
      id: runId, clientId: socket.id, cancelled: false,
      onCancel: () => done('cancelled'),
      step: async () => {
        try {
          if (!run) {
            // First step: the prompt, with its frames, then the ack.
            run = host.runner.incremental();
            const { logits, cache } = await run.feed(prompt, { hooks: host.frameHooks });
            if (job.cancelled) return false;
            prompt.forEach((id, t) => socket.emit('run:frame', runId, toArrayBuffer(host.frame(cache, t, 0, id))));
            lastLogits = logits.data.slice(logits.data.length - vocabSize);
            ack!({ ok: true, value: { runId, tokens: prompt.map((id) => host.token(id)) } });
            if (maxTokens <= 0) {
              done('context');
              return false;
            }
            return true;
          }
          const token = pickToken(lastLogits!, request.temperature ?? 0, request.topK ?? 0, random);
          if (token === eos) {
            done('eos');
            return false;
          }
          const offset = run.length;
          const { logits, cache } = await run.feed([token], { hooks: host.frameHooks });
          if (job.cancelled) return false;
          const k = request.topK && request.topK > 0 ? Math.min(request.topK, 10) : 10;
          const predictions = host.predictions(lastLogits!, k);
          lastLogits = logits.data.slice(logits.data.length - vocabSize);
          // What comes after this token: the Next-token panel shows this, not what chose it.
          const next = host.predictions(lastLogits, k);
          // A client that cannot keep up gets every token, and frames only while its buffer is
          // short: the newest one then, and the last one held back before the end.
          const backlog = (socket.conn as unknown as { writeBuffer?: unknown[] }).writeBuffer?.length ?? 0;
          const encode = () => toArrayBuffer(host.frame(cache, 0, offset, token));
          heldBack = backlog > limits.backlogPackets ? encode : null;
          socket.emit('generate:token', runId, host.token(token), predictions, heldBack ? null : encode(), next);
          produced++;
          if (produced >= maxTokens) {
            done(run.length >= contextLength ? 'context' : 'length');
            return false;
          }
          return true;
        } catch (error) {
          const report = toError(error, runId);
          if (!run || produced === 0) ack!({ ok: false, error: report });
          else socket.emit('error', report);
          return false;
        }
      },
    };
    scheduler.submit(job);
  });
  return { socket, on, scheduler, newRunId, toError };
}

type AckFn = (response: { ok: true; value: unknown } | { ok: false; error: ErrorEvent }) => void;

/** A standalone ArrayBuffer holding exactly these bytes. */
function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? (bytes.buffer as ArrayBuffer)
    : (bytes.slice().buffer as ArrayBuffer);
}
