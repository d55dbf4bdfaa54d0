/**
 * `npm run build:static`: the app as static files in dist-static/, runnable from any static file
 * server with no Node process (the model runs in the browser, in a Web Worker):
 *
 *   index.html, assets/         the client, Vite mode 'static' (relative URLs, worker backend only)
 *   models/<model>/             config.json, model.safetensors, tokenizer.json, tokenizer_config.json,
 *                               MODEL_CARD.md and transcoders/ (when the model has them)
 *   models/<model>/index/       the prebuilt neuron index when the server has a ready one for the
 *                               model (static-index.ts): stores, explanations, manifest.json
 *   ort/                        onnxruntime-web's wasm and its .mjs loader, from our own origin
 *                               (the engine sets ort.env.wasm.wasmPaths to it, see asset-urls.ts)
 *   xr-profiles/                WebXR controller profiles (standalone headsets and the generic
 *                               fallbacks; --all-xr-profiles copies all 98 MB), so VR works offline
 *   _headers                    COOP/COEP for hosts that read it (Netlify, Cloudflare Pages)
 *   coi-sw.js                   a service worker adding the same headers where the host cannot
 *
 * Options: --model DIR (default assets/models/brown-gpt2), --out DIR, --all-xr-profiles,
 * --index-dir DIR (the server's index folder, default .cache/neuron-index), --index-tokens N and
 * --corpus PATH (as given to npm start or `cli index`), --no-index.
 * Prints the size of each part and of the whole.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { copyStaticIndex } from './static-index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

/** The model files the in-browser engine reads (the rest of the folder, e.g. golden test data, stays out). */
export const modelFiles = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'MODEL_CARD.md'];
/** onnxruntime-web's default build (WASM + WebGPU through JSEP): what `import 'onnxruntime-web'` loads. */
export const ortFiles = ['ort-wasm-simd-threaded.jsep.mjs', 'ort-wasm-simd-threaded.jsep.wasm'];
/** Controller profiles kept by default: standalone headsets, hands, and the generic fallbacks
 * (@react-three/xr falls back to 'generic-trigger' when none of a controller's profiles is listed). */
export const xrProfiles = [
  'meta-quest-touch-plus', 'meta-quest-touch-plus-v2', 'meta-quest-touch-pro', 'oculus-touch-v3', 'oculus-touch-v2',
  'pico-4', 'pico-4u', 'pico-neo3', 'htc-vive-focus-3', 'generic-hand', 'generic-fixed-hand',
  'generic-trigger', 'generic-trigger-squeeze-thumbstick',
];

export const headersFile = `/*
  Cross-Origin-Opener-Policy: same-origin
  Cross-Origin-Embedder-Policy: require-corp
`;

export interface StaticBuildOptions {
  model?: string;
  out?: string;
  allXrProfiles?: boolean;
  log?: (message: string) => void;
  /** The server's index folder to take a prebuilt neuron index from (default .cache/neuron-index). */
  indexDir?: string;
  /** The index's token budget and corpus, as given to npm start (--index-tokens, --corpus). */
  indexTokens?: number;
  corpus?: string;
  /** Leave the neuron index out. */
  noIndex?: boolean;
}

export function folderBytes(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((sum, name) => sum + folderBytes(join(path, name)), 0);
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

export async function buildStatic(options: StaticBuildOptions = {}): Promise<{ out: string; bytes: number; parts: Record<string, number> }> {
  const log = options.log ?? ((m: string) => console.log(m));
  const model = resolve(options.model ?? join(root, 'assets/models/brown-gpt2'));
  const out = resolve(options.out ?? join(root, 'dist-static'));
  for (const file of modelFiles.slice(0, 4)) {
    if (!existsSync(join(model, file))) throw new Error(`the model folder ${model} has no ${file} (the in-browser engine needs it)`);
  }

  const { build } = await import('vite');
  await build({
    configFile: join(root, 'vite.config.ts'), mode: 'static', logLevel: 'warn', build: { outDir: out, emptyOutDir: true },
    // The engine worker fetches models/<this name>/ (client/engine-worker/asset-urls.ts).
    define: { __BUNDLED_MODEL__: JSON.stringify(basename(model)) },
  });

  const modelOut = join(out, 'models', basename(model));
  mkdirSync(modelOut, { recursive: true });
  for (const file of modelFiles) if (existsSync(join(model, file))) cpSync(join(model, file), join(modelOut, file));
  if (existsSync(join(model, 'transcoders'))) cpSync(join(model, 'transcoders'), join(modelOut, 'transcoders'), { recursive: true });
  if (!options.noIndex) await copyStaticIndex({ model, modelOut, indexDir: options.indexDir, tokens: options.indexTokens, corpus: options.corpus, log });

  // (its exports map hides package.json; the Node entry lies in dist/ beside the wasm files)
  const ortDist = dirname(require.resolve('onnxruntime-web'));
  mkdirSync(join(out, 'ort'), { recursive: true });
  for (const file of ortFiles) cpSync(join(ortDist, file), join(out, 'ort', file));
  // Vite also emits the .wasm beside the worker (onnxruntime-web's `new URL(…, import.meta.url)`);
  // the engine loads the copy in ort/ (wasmPaths), so that one (28 MB) is never fetched.
  for (const name of readdirSync(join(out, 'assets'))) if (/^ort-wasm.*\.wasm$/.test(name)) rmSync(join(out, 'assets', name));

  const profiles = join(dirname(require.resolve('@webxr-input-profiles/assets/package.json')), 'dist', 'profiles');
  const profilesOut = join(out, 'xr-profiles');
  if (options.allXrProfiles) {
    cpSync(profiles, profilesOut, { recursive: true });
  } else {
    mkdirSync(profilesOut, { recursive: true });
    const list = JSON.parse(readFileSync(join(profiles, 'profilesList.json'), 'utf8')) as Record<string, { path: string }>;
    const kept = Object.fromEntries(Object.entries(list).filter(([id]) => xrProfiles.includes(id)));
    const missing = xrProfiles.filter((id) => !(id in kept));
    if (missing.length > 0) throw new Error(`controller profiles not in @webxr-input-profiles/assets: ${missing.join(', ')}`);
    for (const id of xrProfiles) cpSync(join(profiles, id), join(profilesOut, id), { recursive: true });
    writeFileSync(join(profilesOut, 'profilesList.json'), `${JSON.stringify(kept, null, 2)}\n`);
  }

  writeFileSync(join(out, '_headers'), headersFile);
  cpSync(join(root, 'tools/static/coi-sw.js'), join(out, 'coi-sw.js'));

  const parts: Record<string, number> = {};
  for (const name of readdirSync(out)) parts[name] = folderBytes(join(out, name));
  const bytes = Object.values(parts).reduce((a, b) => a + b, 0);
  const shown = Object.entries(parts).sort((a, b) => b[1] - a[1]).map(([name, size]) => `  ${name.padEnd(14)} ${mb(size).padStart(9)}`);
  log(`dist-static written: ${out}\n${shown.join('\n')}\n  total          ${mb(bytes).padStart(9)} (${bytes} bytes)`);
  return { out, bytes, parts };
}

function positiveInteger(flag: string, text: string): number {
  const n = Number(text);
  if (!(Number.isSafeInteger(n) && n > 0)) throw new Error(`${flag} must be a positive integer, got "${text}"`);
  return n;
}

function parseArgs(argv: string[]): StaticBuildOptions {
  const options: StaticBuildOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => inline ?? argv[++i] ?? (() => { throw new Error(`${flag} needs a value`); })();
    if (flag === '--model') options.model = value();
    else if (flag === '--out') options.out = value();
    else if (flag === '--all-xr-profiles') options.allXrProfiles = true;
    else if (flag === '--index-dir') options.indexDir = value();
    else if (flag === '--index-tokens') options.indexTokens = positiveInteger(flag, value());
    else if (flag === '--corpus') options.corpus = value();
    else if (flag === '--no-index') options.noIndex = true;
    else throw new Error(`unknown option ${arg} (options: --model DIR, --out DIR, --all-xr-profiles, --index-dir DIR, --index-tokens N, --corpus PATH, --no-index)`);
  }
  return options;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildStatic(parseArgs(process.argv.slice(2))).catch((error: Error) => {
    console.error(`build:static failed: ${error.message}`);
    process.exit(1);
  });
}
