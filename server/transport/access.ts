/**
 * Who may connect to the socket.io server, and in which role. Checked once per connection in a
 * socket.io middleware, so a refusal reaches the page as a connect_error with a message in words:
 *
 * - Origin: a browser names the page that opens the socket. Only the server's own pages (Origin
 *   host equal to the Host header) and origins added with --allow-origin may connect; clients that
 *   send no Origin (Node scripts, the CLI, curl) are not browsers driven by a foreign page.
 * - Token: the server has an access token (random at each start, or --token). A connection that
 *   presents it (socket.io `auth.token`, or `?token=` in the socket URL) is an 'operator'; a wrong
 *   token is refused; none at all is refused when the token is required (bound beyond loopback)
 *   and otherwise connects as a 'viewer', who can run the model for themselves but cannot change
 *   what others see (build or cancel the shared index).
 * - Host: a server bound to loopback answers only to loopback names, so a foreign page that
 *   rebinds its own domain name to 127.0.0.1 (DNS rebinding: its Origin and Host then agree) is
 *   still refused.
 * - Connections per address are capped, so one machine cannot exhaust the server's sockets.
 */
import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { Server, Socket } from 'socket.io';

import type { Role } from '../../shared/service/handlers.js';
export type { Role };

export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 32;

export interface AccessOptions {
  /** The access token; absent: every connection is an operator (socket-level tests and benches). */
  token?: string | null;
  /** Refuse connections without the token (default: when a token is set and `bindHost` is not loopback). */
  requireToken?: boolean;
  /** The address the HTTP server listens on, for the default of `requireToken`. */
  bindHost?: string;
  /** Origins allowed besides the server's own pages, e.g. `https://lab.example:8443`. */
  allowOrigins?: string[];
  /** Socket connections one client address may hold (default 32). */
  maxConnectionsPerAddress?: number;
  /** Connections admitted as viewers without the token even when it is required (a presentation
   * room's audience link; the rooms middleware checks the room itself). */
  admitWithoutToken?: (socket: Socket) => boolean;
}

/** An error a refused connection carries to the client (`err.message`, `err.data.code`). */
export class AccessError extends Error {
  readonly data: { code: 'forbidden' | 'unauthorized' | 'busy' };
  constructor(code: 'forbidden' | 'unauthorized' | 'busy', message: string) {
    super(message);
    this.name = 'AccessError';
    this.data = { code };
  }
}

/** True for names and addresses only this machine can reach (localhost, 127.0.0.0/8, ::1). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/** One spelling per client address (IPv4 clients of a dual-stack server appear as ::ffff:a.b.c.d). */
export function clientAddress(socket: Socket): string {
  const raw = socket.handshake.address || socket.conn.remoteAddress || 'unknown';
  return raw.startsWith('::ffff:') && isIP(raw.slice(7)) === 4 ? raw.slice(7) : raw;
}

/** `--allow-origin` values as the browser sends them (scheme://host[:port], no path). */
export function normalizeOrigin(origin: string): string {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw new Error(`--allow-origin: "${origin}" is not a URL (expected for example https://lab.example:8443)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`--allow-origin: "${origin}" must be an http or https URL`);
  return url.origin;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function presentedToken(socket: Socket): string | undefined {
  const fromAuth = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
  if (typeof fromAuth === 'string' && fromAuth.length > 0) return fromAuth;
  const fromQuery = socket.handshake.query.token;
  return typeof fromQuery === 'string' && fromQuery.length > 0 ? fromQuery : undefined;
}

/** Installs the checks on `io`; `roleOf` gives a connected socket's role. */
export function attachAccessControl(io: Server, options: AccessOptions): { roleOf: (socket: Socket) => Role; maxConnectionsPerAddress: number } {
  const token = options.token ?? null;
  const requireToken = token !== null && (options.requireToken ?? !isLoopbackHost(options.bindHost ?? '127.0.0.1'));
  const allowed = new Set((options.allowOrigins ?? []).map(normalizeOrigin));
  const cap = options.maxConnectionsPerAddress ?? DEFAULT_MAX_CONNECTIONS_PER_ADDRESS;
  const roles = new WeakMap<Socket, Role>();

  // Transport connections per address, counted from the handshake to the close, so a burst of
  // simultaneous handshakes cannot slip past the cap.
  const open = new Map<string, number>();
  const loopbackOnly = isLoopbackHost(options.bindHost ?? '127.0.0.1');
  // Transport connections that never ask for a socket get no message; past twice the cap they
  // are not even accepted (a well-behaved client closes a refused one at once).
  const engine = io.engine as unknown as { opts: { allowRequest?: (req: { socket: { remoteAddress?: string } }, fn: (err: string | null | undefined, ok: boolean) => void) => void } };
  engine.opts.allowRequest = (req, fn) => {
    const raw = req.socket.remoteAddress ?? 'unknown';
    const address = raw.startsWith('::ffff:') && isIP(raw.slice(7)) === 4 ? raw.slice(7) : raw;
    const count = open.get(address) ?? 0;
    fn(count < 2 * cap ? null : 'too many connections from this address', count < 2 * cap);
  };
  io.engine.on('connection', (conn: { remoteAddress: string; once: (event: 'close', f: () => void) => void }) => {
    const raw = conn.remoteAddress ?? 'unknown';
    const address = raw.startsWith('::ffff:') && isIP(raw.slice(7)) === 4 ? raw.slice(7) : raw;
    open.set(address, (open.get(address) ?? 0) + 1);
    conn.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  });

  io.use((socket, next) => {
    const origin = socket.handshake.headers.origin;
    if (origin !== undefined) {
      const host = socket.handshake.headers.host ?? '';
      let ownPage = false;
      try {
        ownPage = new URL(origin).host.toLowerCase() === host.toLowerCase();
      } catch {
        ownPage = false; // "null" (a sandboxed page or a file) and anything unparsable
      }
      if (!ownPage && !allowed.has(origin)) {
        next(new AccessError('forbidden', `refused: a page from ${origin} may not use this server (it serves its own pages at ${host}); `
          + `to allow that site, start the server with --allow-origin ${origin}`));
        return;
      }
    }
    const host = socket.handshake.headers.host ?? '';
    if (loopbackOnly && !isLoopbackHost(host.replace(/:\d+$/, ''))) {
      next(new AccessError('forbidden', `refused: this server listens on this machine only and answers to localhost or 127.0.0.1, not to "${host}"`));
      return;
    }
    const address = clientAddress(socket);
    const connections = open.get(address) ?? 0;
    if (connections > cap) {
      next(new AccessError('busy', `refused: ${address} already has ${connections - 1} connections to this server (at most ${cap}); `
        + 'close other tabs or clients, or start the server with a higher --max-connections-per-address'));
      return;
    }
    const given = presentedToken(socket);
    if (token === null) {
      roles.set(socket, 'operator');
    } else if (given !== undefined) {
      if (!sameText(given, token)) {
        next(new AccessError('unauthorized', 'refused: wrong access token. Open the link printed by npm start '
          + '(the token changes at every start unless --token sets it)'));
        return;
      }
      roles.set(socket, 'operator');
    } else if (requireToken && !options.admitWithoutToken?.(socket)) {
      next(new AccessError('unauthorized', 'refused: this server needs its access token: open the link printed by npm start '
        + '(it ends in ?token=...)'));
      return;
    } else {
      roles.set(socket, 'viewer');
    }
    next();
  });

  return { roleOf: (socket) => roles.get(socket) ?? 'viewer', maxConnectionsPerAddress: cap };
}

/** A request only the operator (the access token's holder) may make (shared with the worker's engine). */
export { ForbiddenError } from '../../shared/service/validate.js';
