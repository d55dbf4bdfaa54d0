/**
 * socket.io on the server's HTTP(S) server: one session per socket, admitted by the access
 * checks (access.ts), every payload validated at the edge, all model work through the fair
 * scheduler (the model's events are shared/service/handlers.ts, the same in the in-browser
 * engine). The only room that knows clients.
 */
import type { Server as HttpServer } from 'node:http';
import { Server, type ServerOptions, type Socket } from 'socket.io';
import type { ClientToServerEvents, ErrorEvent, InterServerEvents, ServerToClientEvents, SocketData } from '../../shared/protocol.js';
import { AnalysisContext } from '../../shared/analysis/context.js';
import type { NeuronIndex } from '../neurons/service.js';
import { registerAnalysisHandlers } from '../../shared/service/analysis-handlers.js';
import { registerFeatureHandlers } from './feature-handlers.js';
import type { ModelHost } from '../../shared/service/model-host.js';
import { connectNeuronIndex, registerNeuronHandlers } from './neuron-handlers.js';
import { Scheduler } from '../../shared/service/scheduler.js';
import { limits, newRunId, registerHandlers, toError, type AckFn, type ServiceSocket } from '../../shared/service/handlers.js';
import { attachAccessControl, clientAddress, type AccessOptions } from './access.js';
import { Rooms, type RoomOptions } from '../rooms/rooms.js';

type ClientSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

export { limits };
export type { HandlerKit } from '../../shared/service/handlers.js';

export interface SocketServerOptions extends AccessOptions {
  /** Unfinished jobs per client before new ones are answered 'busy' (default MAX_PENDING_JOBS). */
  maxPendingJobs?: number;
  /** Presentation rooms (server/rooms): store (Redis across processes) and limits. */
  rooms?: RoomOptions;
  /** A socket.io adapter (the Redis Streams adapter with --redis); default: in-process. */
  adapter?: ServerOptions['adapter'];
  /** Compile the analysis graphs (Explain's and Trace's backward passes) now, in the background,
   * instead of on the first Explain or Trace; `onWarmError` hears a failure (a later analysis
   * tries again). */
  warmAnalysis?: boolean;
  onWarmError?: (error: Error) => void;
}

/** `neurons`: the model's neuron index (details, builds through the scheduler, progress events). */
export function attachSocketServer(http: HttpServer, host: ModelHost, neurons?: NeuronIndex, options: SocketServerOptions = {}): { io: Server; scheduler: Scheduler; rooms: Rooms } {
  const io = new Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>(http, {
    transports: ['websocket'],
    // Above the app's own message limit, so a message between the two is answered in words
    // (guardMessageSize) rather than by the transport closing the connection.
    maxHttpBufferSize: limits.transportBytes,
    ...(options.adapter ? { adapter: options.adapter } : {}),
  });
  // A room's audience link carries no access token: such connections are admitted as viewers
  // bound to their room, which the rooms middleware then checks.
  const access = attachAccessControl(io as unknown as Server, { ...options, admitWithoutToken: Rooms.claimsRoom });
  const rooms = new Rooms(io as unknown as Server, { bindHost: options.bindHost, ...options.rooms });
  io.use(rooms.middleware as never);
  const scheduler = new Scheduler({ maxPendingJobs: options.maxPendingJobs });
  const analysis = new AnalysisContext(host.model, host.runner);
  if (options.warmAnalysis) void analysis.warm().catch((error: Error) => options.onWarmError?.(error));
  const index = neurons ? connectNeuronIndex(io, scheduler, neurons, newRunId) : null;
  io.on('connection', (socket) => {
    socket.data.clientId = socket.id;
    scheduler.setClientAddress(socket.id, clientAddress(socket as unknown as Socket));
    guardMessageSize(socket);
    socket.emit('server:status', { state: 'ready' });
    const role = access.roleOf(socket as unknown as Socket);
    rooms.attach(socket, role === 'operator', (error) => toError(error), options.token ?? null);
    const kit = registerHandlers(socket as unknown as ServiceSocket, host, scheduler, role);
    registerAnalysisHandlers(kit, host, analysis);
    registerFeatureHandlers(kit, host, neurons?.corpus, neurons);
    if (neurons && index) registerNeuronHandlers(kit, host, neurons, index.jobId);
    socket.on('disconnect', () => scheduler.removeClient(socket.id));
  });
  return { io, scheduler, rooms };
}

/**
 * Messages the server can read but will not: past limits.messageBytes the event is answered with a
 * 'too_large' error (its ack, or an 'error' event) instead of running. A packet the parser cannot
 * read makes socket.io close the connection; the client is told why first.
 */
function guardMessageSize(socket: ClientSocket): void {
  let oversize = 0;
  socket.conn.on('packet', (packet: { type: string; data?: unknown }) => {
    if (packet.type !== 'message') return;
    const data = packet.data;
    const size = typeof data === 'string'
      ? (data.length > limits.messageBytes / 4 ? Buffer.byteLength(data) : data.length)
      : (data as { byteLength?: number } | undefined)?.byteLength ?? 0;
    if (size > limits.messageBytes) oversize = Math.max(oversize, size);
  });
  socket.use((packet, next) => {
    if (oversize === 0) return next();
    const size = oversize;
    oversize = 0;
    const last = packet[packet.length - 1];
    const error: ErrorEvent = {
      code: 'too_large',
      message: `${String(packet[0])}: the message is ${(size / 2 ** 20).toFixed(1)} MB, over the server's limit of ${limits.messageBytes / 2 ** 20} MB; it was not read`,
    };
    if (typeof last === 'function') (last as AckFn)({ ok: false, error });
    else socket.emit('error', error);
  });
  socket.on('error', (error: Error) => {
    socket.emit('error', { code: 'bad_request', message: `the server could not read a message from this client (${error.message}); it closes the connection` });
  });
}
