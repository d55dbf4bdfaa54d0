/**
 * Where rooms live: in this process (MemoryRoomStore) or in Redis (RedisRoomStore), so that a
 * follower connected to another server process finds the room, its controller and its current
 * snapshot. The control token is kept only as a SHA-256 hash.
 */
import type { RoomState } from '../../shared/protocol.js';

export interface RoomRecord {
  /** SHA-256 (hex) of the control token. */
  tokenHash: string;
  /** Member id (socket id) of whoever drives now; null until the owner joins. */
  controller: string | null;
  state: RoomState;
  version: number;
}

export interface RoomStore {
  create(room: string, tokenHash: string): Promise<void>;
  get(room: string): Promise<RoomRecord | null>;
  /** Just the controller (cheap: checked before every shared action). */
  controller(room: string): Promise<string | null>;
  setController(room: string, controller: string): Promise<void>;
  setState(room: string, state: RoomState, version: number): Promise<void>;
  /** Adds one member unless that would pass `limit`; the new count, or null when full. */
  addMember(room: string, limit: number): Promise<number | null>;
  removeMember(room: string): Promise<void>;
  /** The last run's events, analysis results (JSON, see replay.ts), for late joiners: one part at a time. */
  setReplay(room: string, part: ReplayPart, json: string | null): Promise<void>;
  replay(room: string): Promise<Partial<Record<ReplayPart, string>>>;
}

/** What a late joiner is replayed: the last run (frames, tokens, result), the last effects and the last graph. */
export type ReplayPart = 'run' | 'effects' | 'graph';
export const REPLAY_PARTS: readonly ReplayPart[] = ['run', 'effects', 'graph'];

export class MemoryRoomStore implements RoomStore {
  private readonly rooms = new Map<string, RoomRecord & { members: number }>();
  private readonly replays = new Map<string, Partial<Record<ReplayPart, string>>>();

  async setReplay(room: string, part: ReplayPart, json: string | null): Promise<void> {
    if (!this.rooms.has(room)) return;
    const parts = this.replays.get(room) ?? {};
    if (json === null) delete parts[part];
    else parts[part] = json;
    this.replays.set(room, parts);
  }

  async replay(room: string): Promise<Partial<Record<ReplayPart, string>>> {
    return { ...(this.replays.get(room) ?? {}) };
  }

  async create(room: string, tokenHash: string): Promise<void> {
    this.rooms.set(room, { tokenHash, controller: null, state: {}, version: 0, members: 0 });
  }

  async get(room: string): Promise<RoomRecord | null> {
    const r = this.rooms.get(room);
    return r ? { tokenHash: r.tokenHash, controller: r.controller, state: r.state, version: r.version } : null;
  }

  async controller(room: string): Promise<string | null> {
    return this.rooms.get(room)?.controller ?? null;
  }

  async setController(room: string, controller: string): Promise<void> {
    const r = this.rooms.get(room);
    if (r) r.controller = controller;
  }

  async setState(room: string, state: RoomState, version: number): Promise<void> {
    const r = this.rooms.get(room);
    if (r) Object.assign(r, { state, version });
  }

  async addMember(room: string, limit: number): Promise<number | null> {
    const r = this.rooms.get(room);
    if (!r || r.members >= limit) return null;
    return ++r.members;
  }

  async removeMember(room: string): Promise<void> {
    const r = this.rooms.get(room);
    if (r && r.members > 0) r.members--;
  }
}

/** The subset of a node-redis v5 client the store uses. */
export interface RedisCommands {
  hSet(key: string, fields: Record<string, string>): Promise<number>;
  hGetAll(key: string): Promise<Record<string, string>>;
  hGet(key: string, field: string): Promise<string | null | undefined>;
  expire(key: string, seconds: number): Promise<number>;
  incr(key: string): Promise<number>;
  decr(key: string): Promise<number>;
  hDel(key: string, field: string): Promise<number>;
}

/** Rooms expire a day after their last change, so a crashed presenter leaves nothing for ever. */
const TTL_SECONDS = 24 * 3600;

export class RedisRoomStore implements RoomStore {
  constructor(private readonly redis: RedisCommands, private readonly prefix = 'circuits-xr:room:') {}

  private key(room: string): string {
    return this.prefix + room;
  }

  private async touch(room: string): Promise<void> {
    await this.redis.expire(this.key(room), TTL_SECONDS);
    await this.redis.expire(`${this.key(room)}:members`, TTL_SECONDS);
  }

  async create(room: string, tokenHash: string): Promise<void> {
    await this.redis.hSet(this.key(room), { tokenHash, controller: '', state: '{}', version: '0' });
    await this.touch(room);
  }

  async get(room: string): Promise<RoomRecord | null> {
    const h = await this.redis.hGetAll(this.key(room));
    if (!h || !h.tokenHash) return null;
    return { tokenHash: h.tokenHash, controller: h.controller || null, state: JSON.parse(h.state ?? '{}') as RoomState, version: Number(h.version ?? 0) };
  }

  async controller(room: string): Promise<string | null> {
    return (await this.redis.hGet(this.key(room), 'controller')) || null;
  }

  async setController(room: string, controller: string): Promise<void> {
    await this.redis.hSet(this.key(room), { controller });
  }

  async setState(room: string, state: RoomState, version: number): Promise<void> {
    await this.redis.hSet(this.key(room), { state: JSON.stringify(state), version: String(version) });
    await this.touch(room);
  }

  async addMember(room: string, limit: number): Promise<number | null> {
    const key = `${this.key(room)}:members`;
    const n = await this.redis.incr(key);
    if (n > limit) {
      await this.redis.decr(key);
      return null;
    }
    await this.redis.expire(key, TTL_SECONDS);
    return n;
  }

  async setReplay(room: string, part: ReplayPart, json: string | null): Promise<void> {
    const key = `${this.key(room)}:replay`;
    if (json === null) await this.redis.hDel(key, part);
    else await this.redis.hSet(key, { [part]: json });
    await this.redis.expire(key, TTL_SECONDS);
  }

  async replay(room: string): Promise<Partial<Record<ReplayPart, string>>> {
    return (await this.redis.hGetAll(`${this.key(room)}:replay`)) ?? {};
  }

  async removeMember(room: string): Promise<void> {
    const n = await this.redis.decr(`${this.key(room)}:members`);
    if (n < 0) await this.redis.incr(`${this.key(room)}:members`);
  }
}
