/**
 * Vite build of the browser client (client/ → dist/client); with `--mode static` the standalone
 * build (client/ → dist-static/, relative paths, the engine in a Web Worker; tools/build-static.ts
 * adds the model, ONNX Runtime's wasm, the XR profiles and the isolation headers).
 * WebXR controller profiles and models (@webxr-input-profiles/assets) are served from our own
 * origin under /xr-profiles/ — by this middleware during `vite` dev, and by the app server
 * (server/main.ts) from node_modules — so the headset never reaches a CDN (the page must work
 * offline).
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

const repoRoot = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
/** URL prefix the client passes to the XR store as `baseAssetPath`. */
export const xrProfilesUrl = '/xr-profiles/';

function profilesDirectory(): string {
  const packageJson = require.resolve('@webxr-input-profiles/assets/package.json');
  return join(dirname(packageJson), 'dist', 'profiles');
}

const contentTypes: Record<string, string> = {
  '.json': 'application/json',
  '.glb': 'model/gltf-binary',
  '.gltf': 'model/gltf+json',
  '.png': 'image/png',
};

/** Serves the controller input profiles during `vite` dev. */
function localXrProfiles(): Plugin {
  const source = profilesDirectory();
  return {
    name: 'circuits-local-xr-profiles',
    configureServer(server) {
      server.middlewares.use(xrProfilesUrl, (request, response, next) => {
        const relative = decodeURIComponent((request.url ?? '/').split('?')[0]);
        const file = normalize(join(source, relative));
        if (!file.startsWith(source + sep) || !existsSync(file) || !statSync(file).isFile()) return next();
        response.setHeader('Content-Type', contentTypes[extname(file)] ?? 'application/octet-stream');
        createReadStream(file).pipe(response);
      });
    },
  };
}

/** The standalone build's folder (`npm run build:static`). */
export const staticOutDir = join(repoRoot, 'dist-static');

export default defineConfig(({ mode }) => ({
  root: join(repoRoot, 'client'),
  // The static build works from any folder of any host (all its URLs are relative).
  base: mode === 'static' ? './' : '/',
  plugins: [react(), localXrProfiles()],
  resolve: {
    // onnxruntime-web's build without its wasm bundled in: the engine loads ort-wasm-*.{mjs,wasm}
    // from /ort/ (ort.env.wasm.wasmPaths; npm start and dist-static serve them there), so the
    // 28 MB wasm is not emitted a second time into assets/, and WASM threads start from that
    // .mjs rather than from the engine worker's own script.
    alias: [{ find: /^onnxruntime-web$/, replacement: join(dirname(require.resolve('onnxruntime-web')), 'ort.min.mjs') }],
  },
  // The engine worker is a module worker (it imports onnxruntime-web, which loads its .mjs itself).
  worker: { format: 'es' as const },
  build: {
    outDir: mode === 'static' ? staticOutDir : join(repoRoot, 'dist', 'client'),
    emptyOutDir: true,
    chunkSizeWarningLimit: 4096,
  },
  server: {
    // During `vite` dev, socket.io goes to a running server (`npm start -- --port 8080`).
    proxy: { '/socket.io': { target: 'http://127.0.0.1:8080', ws: true } },
  },
}));
