/**
 * Where the in-browser engine finds its files, relative to the app's root (so the static build
 * works from any folder of any host): `models/<name>/` (config.json, model.safetensors,
 * tokenizer.json, tokenizer_config.json, transcoders/) and `ort/` (onnxruntime-web's .mjs and
 * .wasm, for `ort.env.wasm.wasmPaths`). tools/build-static.ts writes them into dist-static/;
 * `npm start` serves them at the same paths. The worker's own script lies one folder below the
 * root both built (assets/worker-*.js) and under Vite dev (/engine-worker/worker.ts).
 */
const here = import.meta.url;

/** The model the app bundles: assets/models/brown-gpt2, served by npm start; in the static build,
 * the folder `build:static --model DIR` copied (its name compiled in). */
export const BUNDLED_MODEL: string = typeof __BUNDLED_MODEL__ === 'string' ? __BUNDLED_MODEL__ : 'brown-gpt2';

declare const __BUNDLED_MODEL__: string | undefined; // tools/build-static.ts defines it // (a variable, so Vite does not take new URL(…, import.meta.url) for an asset)

/** The app's root URL, seen from the worker. */
export function appRoot(): URL {
  return new URL('../', here);
}

/** The folder of a bundled model, e.g. modelUrl('brown-gpt2') → <root>/models/brown-gpt2/. */
export function modelUrl(name: string, root: URL = appRoot()): URL {
  return new URL(`models/${encodeURIComponent(name)}/`, root);
}

/** For `ort.env.wasm.wasmPaths`: the folder holding ort-wasm-simd-threaded.jsep.{mjs,wasm}. */
export function ortWasmUrl(root: URL = appRoot()): string {
  return new URL('ort/', root).href;
}
