/**
 * Starts the real Circuits XR server (`server/main.ts`) on a free port for a browser test and
 * stops it afterwards (the whole process group, so tsx's child goes too). The server gets a known
 * access token, and `url` is the link `npm start` would print (with `?token=`), so the page opened
 * there is the operator (it may build the neuron index); `baseUrl` is the same without the token.
 */
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export interface RunningServer {
  /** http://localhost:PORT/?token=T — "localhost" so the XR store emulates a headset there. */
  url: string;
  /** http://localhost:PORT/ (a page opened there has no token). */
  baseUrl?: string;
  /** The server's access token. */
  token?: string;
  port: number;
  output(): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

async function waitForHttp(url: string, child: ChildProcess, log: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`server exited (${child.exitCode ?? child.signalCode}):\n${log()}`);
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`server did not answer ${url} within ${timeoutMs} ms:\n${log()}`);
}

export async function startServer(options: { modelDir?: string; extraArgs?: string[]; timeoutMs?: number } = {}): Promise<RunningServer> {
  // A port found free can be taken before the server binds it (other processes share the machine).
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnFreePort(options);
    } catch (error) {
      if (attempt >= 3 || !/EADDRINUSE/.test((error as Error).message)) throw error;
    }
  }
}

async function startOnFreePort(options: { modelDir?: string; extraArgs?: string[]; timeoutMs?: number }): Promise<RunningServer> {
  const port = await freePort();
  // --no-index: these tests are not about the neuron index, which would otherwise build in the background.
  const token = randomBytes(18).toString('base64url');
  // One argument: a base64url token may start with '-', which a separate argument would turn into an option.
  const args = ['tsx', 'server/main.ts', '--port', String(port), '--no-index', `--token=${token}`];
  if (options.modelDir) args.push('--model', options.modelDir);
  args.push(...(options.extraArgs ?? []));
  const child = spawn('npx', args, { cwd: process.cwd(), detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
  let log = '';
  const append = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  // Resolves when npx (the group leader) has exited, whether by code or by signal.
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopping: Promise<void> | undefined;
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // the group is already gone
    }
  };
  // Idempotent: a second call waits for the first.
  const stop = () => {
    stopping ??= (async () => {
      if (child.pid === undefined) return;
      killGroup('SIGTERM');
      const timer = setTimeout(() => killGroup('SIGKILL'), 5000);
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 8000))]);
      clearTimeout(timer);
      killGroup('SIGKILL'); // anything in the group that outlived its leader
    })();
    return stopping;
  };
  const baseUrl = `http://localhost:${port}/`;
  try {
    await waitForHttp(`http://127.0.0.1:${port}/`, child, () => log, options.timeoutMs ?? 180_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `${baseUrl}?token=${token}`, baseUrl, token, port, output: () => log, stop };
}
