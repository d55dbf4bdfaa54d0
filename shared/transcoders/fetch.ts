/**
 * A transcoder folder fetched over HTTP, for the in-browser engine: its config (the first of
 * TRANSCODER_CONFIG_NAMES the host has) and the layer files it lists (or, with no config,
 * layer_{l}.safetensors), held in memory as the `ModelFiles` the shared loader reads
 * (load.ts, live.ts `HostedTranscoders.load`). Browser-safe: only `fetch`.
 */
import { ModelError } from '../engine/decoder.js';
import { memoryFiles, type ModelFiles } from '../engine/files.js';
import { TRANSCODER_CONFIG_NAMES, transcoderFileNames } from './load.js';

type Fetch = (url: URL) => Promise<Response>;

/**
 * The files of the transcoder folder at `folder` (a URL ending in '/'), or null when it holds
 * neither a config nor layer_0.safetensors (the model has no transcoders). A file the config
 * lists but the host lacks is left out, so loading names it ("transcoder file not found"); an
 * HTTP error other than 404 is a ModelError naming the URL. A dev server's HTML page in place of
 * a missing file counts as missing.
 */
export async function fetchTranscoderFiles(folder: URL, nLayers: number, fetchFile: Fetch = (url) => fetch(url)): Promise<ModelFiles | null> {
  const get = async (name: string): Promise<Uint8Array | null> => {
    const url = new URL(name, folder);
    let response: Response;
    try {
      response = await fetchFile(url);
    } catch (error) {
      throw new ModelError(`${url.href}: cannot fetch the transcoder file (${(error as Error).message})`);
    }
    if (response.status === 404 || (response.ok && (response.headers.get('content-type') ?? '').startsWith('text/html'))) return null;
    if (!response.ok) throw new ModelError(`${url.href}: cannot fetch the transcoder file (HTTP ${response.status})`);
    return new Uint8Array(await response.arrayBuffer());
  };
  const files = new Map<string, Uint8Array>();
  let configName: string | undefined;
  for (const name of TRANSCODER_CONFIG_NAMES) {
    const bytes = await get(name);
    if (bytes) {
      files.set(name, bytes);
      configName = name;
      break;
    }
  }
  const folderFiles = memoryFiles(folder.href.replace(/\/$/, ''), files); // reads `files` as it fills
  const names = transcoderFileNames(folderFiles, nLayers, configName);
  const fetched = await Promise.all(names.map(async (name) => [name, await get(name)] as const));
  for (const [name, bytes] of fetched) if (bytes) files.set(name, bytes);
  if (!configName && !files.has('layer_0.safetensors')) return null;
  return folderFiles;
}
