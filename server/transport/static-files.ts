/** Serves the built client (dist/client), plus extra folders mounted at URL prefixes (the
 * WebXR controller profiles straight from node_modules), with correct MIME types and no path
 * traversal. Every answer carries the two cross-origin isolation headers, so the page is
 * `crossOriginIsolated` and the in-browser engine (`?engine=browser`) gets WASM threads, as on a
 * static host that sends them (dist-static/_headers). */
import { createReadStream, existsSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

const mimeTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.glb': 'model/gltf-binary', '.gltf': 'model/gltf+json', '.wasm': 'application/wasm', '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8', '.map': 'application/json',
};

/** COOP + COEP: the page gets its own browsing context group and loads only same-origin or
 * CORP/CORS-allowed resources, which makes SharedArrayBuffer (ONNX Runtime's WASM threads) available. */
export const isolationHeaders = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
} as const;

export function staticHandler(root: string, mounts: Record<string, string> = {}) {
  const roots = [...Object.entries(mounts).map(([prefix, dir]) => ({ prefix, base: normalize(dir + sep) })), { prefix: '/', base: normalize(root + sep) }];
  return (request: IncomingMessage, response: ServerResponse): void => {
    if (request.url?.startsWith('/socket.io/')) return; // socket.io answers these
    for (const [name, value] of Object.entries(isolationHeaders)) response.setHeader(name, value);
    let path: string;
    try {
      path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
    } catch {
      response.writeHead(400).end('bad request');
      return;
    }
    if (path.endsWith('/')) path += 'index.html';
    const { prefix, base } = roots.find((r) => path.startsWith(r.prefix))!;
    const file = normalize(join(base, path.slice(prefix.length)));
    if (!file.startsWith(base)) {
      response.writeHead(403).end('forbidden');
      return;
    }
    if (!existsSync(file) || !statSync(file).isFile()) {
      response.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    response.writeHead(200, {
      'Content-Type': mimeTypes[extname(file)] ?? 'application/octet-stream',
      'Cache-Control': path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    createReadStream(file).pipe(response);
  };
}
