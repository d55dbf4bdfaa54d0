/**
 * A model folder the viewer drops onto the page or picks with "Open model…", made ready for the
 * in-browser engine (createBrowserBackend({ name, files })): the folder's files are listed
 * (nothing read yet), the model among them is found (shared/engine/loaders/model-files.ts
 * findModel: a Hugging Face folder or a llama2.c checkpoint, else a refusal naming what was
 * found), its memory need is estimated from config.json or the checkpoint's header and compared
 * with what this browser allows (shared/engine/memory-estimate.ts), and only then are the files
 * the model needs read (the model card, golden files, transcoders and anything else are left).
 */
import { ModelError } from '../../shared/engine/decoder.js';
import { findModel } from '../../shared/engine/loaders/model-files.js';
import {
  browserLimits, estimateFromConfig, estimateFromLlama2cHeader, formatBytes, memoryRefusal, type BrowserLimits, type MemoryNeed,
} from '../../shared/engine/memory-estimate.js';
import type { PageModel } from './engine-choice.js';

/** One file of the folder: its name in the folder and its bytes on demand (a File, or a test's stand-in). */
export interface FolderFile {
  name: string;
  size: number;
  slice(start: number, end: number): { arrayBuffer(): Promise<ArrayBuffer> };
  arrayBuffer(): Promise<ArrayBuffer>;
  text(): Promise<string>;
}

export interface ModelFolder {
  /** The folder's name (the model's name in the status bar). */
  name: string;
  /** Its files (directly in it). */
  files: FolderFile[];
  /** Sub-folders and files deeper down, named for messages only. */
  others: string[];
}

/** Tokenizer and config files a Hugging Face folder may need besides its weights. */
const HF_SMALL_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.json', 'merges.txt'];

/** The names among `names` the model needs (read before loading); the rest are never read. */
export function neededFiles(kind: 'hf' | 'llama2c', names: readonly string[], options: { checkpoint?: string; shards?: readonly string[] } = {}): string[] {
  if (kind === 'llama2c') return names.filter((n) => n === options.checkpoint || /^tok.*\.bin$/.test(n));
  if (names.includes('model.safetensors.index.json')) {
    return names.filter((n) => HF_SMALL_FILES.includes(n) || n === 'model.safetensors.index.json' || (options.shards ?? []).includes(n));
  }
  return names.filter((n) => HF_SMALL_FILES.includes(n) || n === 'model.safetensors');
}

export type Prepared =
  | { ok: true; model: PageModel; need: MemoryNeed; read: string[]; ignored: string[] }
  | { ok: false; reason: string; need?: MemoryNeed };

/**
 * Checks the folder and reads what the model needs, or says why not. `limits`: this browser's
 * (browserLimits(globalThis)); `onReading` hears the bytes about to be read.
 */
export async function prepareModelFolder(folder: ModelFolder, limits: BrowserLimits = browserLimits(globalThis), onReading?: (bytes: number, need: MemoryNeed) => void): Promise<Prepared> {
  const byName = new Map(folder.files.map((f) => [f.name, f]));
  const names = [...byName.keys()];
  const shown = [...names, ...folder.others];
  try {
    const found = findModel(folder.name, shown);
    let need: MemoryNeed;
    let needed: string[];
    if (found.kind === 'hf') {
      const config = await byName.get('config.json')!.text();
      let shards: string[] = [];
      if (byName.has('model.safetensors.index.json')) {
        const index = JSON.parse(await byName.get('model.safetensors.index.json')!.text()) as { weight_map?: Record<string, string> };
        shards = [...new Set(Object.values(index.weight_map ?? {}))];
        const missing = shards.filter((s) => !byName.has(s));
        if (missing.length) throw new ModelError(`${folder.name}: model.safetensors.index.json names ${missing.join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not in the folder`);
      } else if (!byName.has('model.safetensors')) {
        throw new ModelError(`${folder.name}: config.json but no model.safetensors (or model.safetensors.index.json) among ${describe(shown)}`);
      }
      needed = neededFiles('hf', names, { shards });
      need = estimateFromConfig(folder.name, config, sizeOf(needed, byName));
    } else {
      needed = neededFiles('llama2c', names, { checkpoint: found.checkpoint });
      const checkpoint = byName.get(found.checkpoint)!;
      const header = new Uint8Array(await checkpoint.slice(0, 28).arrayBuffer());
      need = estimateFromLlama2cHeader(folder.name, found.checkpoint, header, checkpoint.size, sizeOf(needed, byName));
    }
    const refusal = memoryRefusal(need, limits);
    if (refusal) return { ok: false, reason: refusal, need };
    onReading?.(need.fileBytes, need);
    const files: Record<string, ArrayBuffer> = {};
    await Promise.all(needed.map(async (name) => { files[name] = await byName.get(name)!.arrayBuffer(); }));
    return { ok: true, model: { name: folder.name, files }, need, read: needed, ignored: shown.filter((n) => !needed.includes(n)) };
  } catch (error) {
    if (error instanceof ModelError || error instanceof SyntaxError) return { ok: false, reason: error instanceof SyntaxError ? `${folder.name}: ${error.message}` : error.message };
    return { ok: false, reason: `${folder.name}: could not be read (${(error as Error).message})` };
  }
}

function sizeOf(names: readonly string[], byName: Map<string, FolderFile>): number {
  return names.reduce((sum, n) => sum + (byName.get(n)?.size ?? 0), 0);
}

function describe(names: readonly string[]): string {
  return `${names.length} file${names.length === 1 ? '' : 's'} (${names.slice(0, 6).join(', ')}${names.length > 6 ? ', …' : ''})`;
}

/** "Reading brown-gpt2: 17 MB…" */
export function readingWords(name: string, bytes: number): string {
  return `Reading ${name}: ${formatBytes(bytes)}…`;
}

/** The folder an <input type=file webkitdirectory> gave: files by their webkitRelativePath
 * ("folder/config.json"); deeper ones are only named. Null when nothing was picked. */
export function folderFromFileList(list: ArrayLike<File>): ModelFolder | null {
  const all = Array.from(list);
  if (all.length === 0) return null;
  const parts = (f: File) => (f.webkitRelativePath || f.name).split('/');
  const name = all.length && parts(all[0]!).length > 1 ? parts(all[0]!)[0]! : 'dropped model';
  const files: FolderFile[] = [];
  const others: string[] = [];
  for (const file of all) {
    const p = parts(file);
    const inside = p.length > 1 ? p.slice(1) : p;
    if (inside.length === 1) files.push(named(file, inside[0]!));
    else if (!others.includes(`${inside[0]}/`)) others.push(`${inside[0]}/`);
  }
  return { name, files, others };
}

function named(file: File, name: string): FolderFile {
  return { name, size: file.size, slice: (a, b) => file.slice(a, b), arrayBuffer: () => file.arrayBuffer(), text: () => file.text() };
}

/** The folder (or loose files) dropped: DataTransfer items as file-system entries. Only the
 * listing is read here (files directly in the dropped folder; sub-folders are named). */
export async function folderFromDrop(items: DataTransferItemList): Promise<ModelFolder | null> {
  const list = Array.from(items).filter((item) => item.kind === 'file');
  const entries = list.map((item) => item.webkitGetAsEntry?.()).filter((e): e is FileSystemEntry => !!e);
  if (entries.length < list.length) {
    // Files without a file-system entry (made by a script, or a browser without entries): loose files.
    const loose = list.map((item) => item.getAsFile()).filter((f): f is File => !!f);
    if (loose.length === 0) return null;
    return looseFolder(loose.map((f) => named(f, f.name)), []);
  }
  if (entries.length === 0) return null;
  if (entries.length === 1 && entries[0]!.isDirectory) {
    const dir = entries[0] as FileSystemDirectoryEntry;
    const children = await readAllEntries(dir.createReader());
    const files: FolderFile[] = [];
    const others: string[] = [];
    for (const child of children) {
      if (child.isFile) files.push(named(await entryFile(child as FileSystemFileEntry), child.name));
      else others.push(`${child.name}/`);
    }
    return { name: dir.name, files, others };
  }
  // Loose files dropped together: they are the folder.
  const files: FolderFile[] = [];
  const others: string[] = [];
  for (const entry of entries) {
    if (entry.isFile) files.push(named(await entryFile(entry as FileSystemFileEntry), entry.name));
    else others.push(`${entry.name}/`);
  }
  return looseFolder(files, others);
}

/** Loose files dropped together are the folder; a llama2.c checkpoint names it, else "dropped model". */
function looseFolder(files: FolderFile[], others: string[]): ModelFolder {
  const checkpoint = files.find((f) => f.name.endsWith('.bin') && !f.name.startsWith('tok'));
  return { name: checkpoint ? checkpoint.name.replace(/\.bin$/, '') : 'dropped model', files, others };
}

/** A directory reader gives its entries in batches until an empty one. */
async function readAllEntries(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  const all: FileSystemEntry[] = [];
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) return all;
    all.push(...batch);
  }
}

function entryFile(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}
