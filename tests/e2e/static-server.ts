/**
 * A plain static file server for the standalone build's tests (node:http and node:fs only, no app
 * code): what any static host does. GET/HEAD of files under one folder with their MIME types,
 * index.html for a folder, 404 otherwise, no path escapes; optionally the two cross-origin
 * isolation headers (COOP/COEP), as a host that reads dist-static/_headers would send them.
 * Every request's path is recorded, so a test can tell what the page fetched.
 */
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.wasm': 'application/wasm', '.svg': 'image/svg+xml',
  '.png': 'image/png', '.glb': 'model/gltf-binary', '.gltf': 'model/gltf+json', '.md': 'text/markdown; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8', '.yaml': 'text/yaml; charset=utf-8', '.ico': 'image/x-icon',
};

export interface StaticServer {
  url: string;
  /** Paths requested so far (with their status), in order. */
  requests: { path: string; status: number }[];
  close(): Promise<void>;
}

export async function serveStatic(folder: string, options: { isolationHeaders?: boolean; host?: string } = {}): Promise<StaticServer> {
  const rootDir = resolve(folder);
  const requests: StaticServer['requests'] = [];
  const server = createServer((request, response) => {
    const path = decodeURIComponent((request.url ?? '/').split('?')[0]!);
    const answer = (status: number) => requests.push({ path, status });
    if (options.isolationHeaders) {
      response.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
      response.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      answer(405);
      response.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    let file = normalize(join(rootDir, path));
    if (file !== rootDir && !file.startsWith(rootDir + sep)) {
      answer(403);
      response.writeHead(403).end('outside the served folder');
      return;
    }
    try {
      if (statSync(file).isDirectory()) file = join(file, 'index.html');
      const size = statSync(file).size;
      answer(200);
      response.writeHead(200, { 'Content-Type': types[extname(file)] ?? 'application/octet-stream', 'Content-Length': size, 'Cache-Control': 'no-cache' });
      if (request.method === 'HEAD') response.end();
      else createReadStream(file).pipe(response);
    } catch {
      answer(404);
      response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`not found: ${path}`);
    }
  });
  await new Promise<void>((resolveListen) => server.listen(0, options.host ?? '127.0.0.1', resolveListen));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}/`,
    requests,
    close: () => new Promise((resolveClose) => {
      server.closeAllConnections();
      server.close(() => resolveClose());
    }),
  };
}
