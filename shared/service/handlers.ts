/**
 * The model's own socket events, one implementation for both backends: `model:info`,
 * `vocab:lookup`, `run:prompt` (frames then the ack), `generate:start` (streamed tokens and
 * frames), `run:cancel`. The server registers them on each socket.io socket
 * (server/transport/socket-server.ts, behind access control and message-size guards); the
 * in-browser engine registers them on its worker's PortSocket (client/engine-worker/). Every
 * payload is validated here, all model work goes through the fair scheduler, and frames go out
 * under back-pressure (RunOutbox).
 */
import { ModelError } from '../engine/decoder.js';
import { seededRandom, pickToken } from '../engine/generate.js';
import type { IncrementalRun } from '../engine/runner.js';
import type { ErrorEvent, GenerateRequest, RunRequest, ServerToClientEvents, SocketData } from '../protocol.js';
import { requestLimits } from '../limits.js';
import type { ModelHost } from './model-host.js';
import { BusyError, type Job, type Scheduler } from './scheduler.js';
import { checkIdList, checkObject, ForbiddenError, PayloadError } from './validate.js';

export const limits = {
  ...requestLimits,
  /** Packets waiting in a client's socket buffer beyond which frames are skipped or held back. */
  backlogPackets: 16,
};

/** 'operator' (holds the access token, or the page's own engine) or 'viewer'. */
export type Role = 'operator' | 'viewer';

/**
 * What the handlers use of a client's socket: a socket.io server socket has it, and so does the
 * engine worker's PortSocket (whose write buffer is always empty and never drains).
 */
export interface ServiceSocket {
  readonly id: string;
  readonly data: Partial<SocketData>;
  readonly disconnected: boolean;
  readonly conn: { writeBuffer?: unknown[]; on(event: 'drain', handler: () => void): unknown };
  on(event: string, handler: (...args: any[]) => void): unknown;
  emit<E extends keyof ServerToClientEvents>(event: E, ...args: Parameters<ServerToClientEvents[E]>): boolean;
}

export type AckFn = (response: { ok: true; value: unknown } | { ok: false; error: ErrorEvent }) => void;

type OnHandler = (event: string, needsAck: boolean, handler: (payload: unknown, ack: AckFn | null) => void) => void;

/** What handler modules get: the socket, the validated-event helper, the scheduler. */
export interface HandlerKit {
  socket: ServiceSocket;
  on: OnHandler;
  scheduler: Scheduler;
  newRunId: (kind: string) => string;
  toError: (error: unknown, runId?: string) => ErrorEvent;
  role: Role;
  /** Throws a 'forbidden' error unless this client is the operator (for model-wide actions). */
  requireOperator: (event: string) => void;
}

let runCounter = 0;
/** A run id unique in this process (or worker). */
export const newRunId = (kind: string) => `${kind}-${++runCounter}`;

/** An error as the client hears it: a code and words. */
export function toError(error: unknown, runId?: string): ErrorEvent {
  if (error instanceof PayloadError) return { code: 'bad_request', message: error.message, runId };
  if (error instanceof BusyError) return { code: 'busy', message: error.message, runId };
  if (error instanceof ForbiddenError) return { code: 'forbidden', message: error.message, runId };
  if (error instanceof ModelError) {
    const tooLong = /context window/.test(error.message);
    return { code: tooLong ? 'too_long' : 'bad_request', message: error.message, runId };
  }
  return { code: 'internal', message: `internal error: ${(error as Error)?.message ?? String(error)}`, runId };
}

/** Registers the model's events on `socket`; returns the kit the other handler modules take. */
export function registerHandlers(socket: ServiceSocket, host: ModelHost, scheduler: Scheduler, role: Role): HandlerKit {
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

  const backlog = () => socket.conn.writeBuffer?.length ?? 0;
  const runOutbox = new RunOutbox(socket, backlog);

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
      id: runId, clientId: socket.id, cancelled: false, kind: 'run',
      onCancel: () => ack!({ ok: false, error: { code: 'cancelled', message: 'run cancelled', runId } }),
      step: async () => {
        try {
          const withFeatures = socket.data.features;
          const { logits, cache } = await host.runner.run([tokens], { hooks: host.hooksFor(withFeatures) });
          const features = await host.liveFeatures(cache, withFeatures);
          if (job.cancelled) return false;
          const V = vocabSize;
          const last = logits.data.subarray((tokens.length - 1) * V, tokens.length * V);
          const result = { runId, tokens: tokens.map((id) => host.token(id)), predictions: host.predictions(last, request.topK ?? 10) };
          runOutbox.deliver(runId, tokens.length, (t) => toArrayBuffer(host.frame(cache, t, 0, tokens[t]!, features?.[t])), () => ack!({ ok: true, value: result }));
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
      id: runId, clientId: socket.id, cancelled: false, kind: 'generate',
      onCancel: () => done('cancelled'),
      step: async () => {
        try {
          if (!run) {
            // First step: the prompt, with its frames, then the ack.
            run = host.runner.incremental();
            const { logits, cache } = await run.feed(prompt, { hooks: host.hooksFor(socket.data.features) });
            const features = await host.liveFeatures(cache, socket.data.features);
            if (job.cancelled) return false;
            // A client already behind gets the prompt's newest frame only (as for tokens).
            const from = backlog() > limits.backlogPackets ? prompt.length - 1 : 0;
            for (let t = from; t < prompt.length; t++) socket.emit('run:frame', runId, toArrayBuffer(host.frame(cache, t, 0, prompt[t]!, features?.[t])));
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
          const { logits, cache } = await run.feed([token], { hooks: host.hooksFor(socket.data.features) });
          const features = await host.liveFeatures(cache, socket.data.features);
          if (job.cancelled) return false;
          const k = request.topK && request.topK > 0 ? Math.min(request.topK, 10) : 10;
          const predictions = host.predictions(lastLogits!, k);
          lastLogits = logits.data.slice(logits.data.length - vocabSize);
          // What comes after this token: the Next-token panel shows this, not what chose it.
          const next = host.predictions(lastLogits, k);
          // A client that cannot keep up gets every token, and frames only while its buffer is
          // short: the newest one then, and the last one held back before the end.
          const encode = () => toArrayBuffer(host.frame(cache, 0, offset, token, features?.[0]));
          heldBack = backlog() > limits.backlogPackets ? encode : null;
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
  const requireOperator = (event: string) => {
    if (role !== 'operator') {
      throw new ForbiddenError(`${event}: only the operator may do this, because it changes what everyone using the server sees `
        + '(open the link with the access token printed by npm start)');
    }
  };
  return { socket, on, scheduler, newRunId, toError, role, requireOperator };
}

/**
 * A run's frames for a client that may have stopped reading. While its socket buffer is short,
 * frames and then the ack go out at once. Past limits.backlogPackets the run (its frame encoder
 * and ack) is held back until the buffer drains; a newer run replaces a held one, whose frames
 * are dropped and whose ack goes out alone. So a client sending hundreds of runs while not
 * reading costs at most one run's frames, and still ends with every frame of its newest run.
 */
export class RunOutbox {
  private held: { send: () => void; skip: () => void } | null = null;

  constructor(private readonly socket: ServiceSocket, private readonly backlog: () => number) {
    // 'drain': the engine handed its buffer to the transport, which accepted more.
    socket.conn.on('drain', () => this.flush());
  }

  deliver(runId: string, count: number, frame: (t: number) => ArrayBuffer, ack: () => void): void {
    const superseded = this.held;
    this.held = null;
    superseded?.skip();
    const send = () => {
      for (let t = 0; t < count; t++) this.socket.emit('run:frame', runId, frame(t));
      ack();
    };
    if (this.backlog() <= limits.backlogPackets) send();
    else this.held = { send, skip: ack };
  }

  private flush(): void {
    if (!this.held || this.backlog() > limits.backlogPackets || this.socket.disconnected) return;
    const { send } = this.held;
    this.held = null;
    send();
  }
}

/** A standalone ArrayBuffer holding exactly these bytes. */
function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? (bytes.buffer as ArrayBuffer)
    : (bytes.slice().buffer as ArrayBuffer);
}
