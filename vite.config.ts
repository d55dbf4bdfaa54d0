/**
 * Vite build of the browser client (client/ → dist/client).
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

export default defineConfig({
  root: join(repoRoot, 'client'),
  base: '/',
  plugins: [react(), localXrProfiles()],
  build: {
    outDir: join(repoRoot, 'dist', 'client'),
    emptyOutDir: true,
    chunkSizeWarningLimit: 4096,
  },
  server: {
    // During `vite` dev, socket.io goes to a running server (`npm start -- --port 8080`).
    proxy: { '/socket.io': { target: 'http://127.0.0.1:8080', ws: true } },
  },
});
