/**
 * `--redis redis://host:port`: socket.io's Redis Streams adapter (so `io.to(room).emit` reaches
 * members on every server process) and the room store in the same Redis (so a follower on any
 * process finds the room, its controller and its snapshot). Without the flag nothing here loads.
 */
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { createClient } from 'redis';
import { RedisRoomStore } from './store.js';

export async function connectRedis(url: string): Promise<{ adapter: ReturnType<typeof createAdapter>; store: RedisRoomStore; close: () => Promise<void> }> {
  const client = createClient({ url, socket: { connectTimeout: 5000, reconnectStrategy: (retries) => Math.min(retries * 200, 2000) } });
  // Without a listener node-redis throws on errors; connection trouble is reported once here.
  let reported = false;
  client.on('error', (error: Error) => {
    if (!reported) console.error(`redis ${url}: ${error.message} (retrying)`);
    reported = true;
  });
  client.on('ready', () => { reported = false; });
  try {
    await Promise.race([
      client.connect(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 5 s')), 5000).unref()),
    ]);
  } catch (error) {
    client.destroy();
    throw new Error(`--redis: cannot connect to ${url} (${(error as Error).message}); is redis-server running there?`);
  }
  return {
    // Reads block at most 1 s, so closing the server does not wait long for the reader to stop.
    adapter: createAdapter(client, { blockTimeInMs: 1000 }),
    store: new RedisRoomStore(client as never),
    close: async () => {
      try { client.destroy(); } catch { /* already closed */ }
    },
  };
}
