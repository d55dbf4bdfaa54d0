/**
 * A private redis-server (Debian's package) on a free loopback port, for the cross-process rooms
 * test and bench/rooms.ts: no persistence, stopped by the caller.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** Whether redis-server is installed (.ci/run installs it). */
export const hasRedisServer = (): boolean => spawnSync('redis-server', ['--version']).status === 0;

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  child: ChildProcess;
  /** redis://127.0.0.1:PORT */
  url: string;
  stop(): void;
}

/** Starts redis-server and resolves once it accepts connections (or rejects with its output). */
export async function startRedisServer(timeoutMs = 10_000): Promise<RedisServer> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`redis-server did not start within ${timeoutMs / 1000} s: ${out}`));
    }, timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (/Ready to accept connections/.test(out)) { clearTimeout(timer); resolve(); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`redis-server exited (${code}): ${out}`)); });
  });
  return { child, url: `redis://127.0.0.1:${port}`, stop: () => { child.kill('SIGTERM'); } };
}
