/**
 * What the in-browser engine fetches when `npm start` serves the page and the viewer chose
 * "Inference: in this browser" (client/state/engine-choice.ts): the bundled model at
 * /models/<name>/ and onnxruntime-web's wasm at /ort/ — the same paths as in dist-static/
 * (client/engine-worker/asset-urls.ts). Only the bundled model, which is public anyway: a
 * `--model` folder of the operator's own is never served as files.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname } from 'node:path';

/** URL prefix → folder, for staticHandler's mounts. */
export function browserEngineMounts(bundledModel: string): Record<string, string> {
  const mounts: Record<string, string> = {
    // (onnxruntime-web's exports map hides package.json; its Node entry lies in dist/ beside the wasm)
    '/ort/': dirname(createRequire(import.meta.url).resolve('onnxruntime-web')),
  };
  if (existsSync(bundledModel)) mounts[`/models/${basename(bundledModel)}/`] = bundledModel;
  return mounts;
}
