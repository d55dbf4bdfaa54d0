/**
 * The store's durability: a build killed (SIGKILL, in a CLI child process) after its first
 * checkpoint resumes and ends byte-identical to an uninterrupted build; a truncated store or a
 * flipped byte in a record is detected, moved aside, never served, and rebuilt identically.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LoadedModel } from '../../../server/engine/decoder.js';
import { loadModel } from '../../../server/engine/load.js';
import { NeuronIndex, type NeuronIndexOptions } from '../../../server/neurons/service.js';
import { bundledModel, smallCorpus, tempDir } from './fixtures.js';

const root = new URL('../../../', import.meta.url).pathname;
const TOKENS = 6000;
const BATCH = 4;
let referenceDir: string;
let model: LoadedModel;
let corpus: string;
let reference: Buffer;

// Checkpoint frequency does not change the result: in-process builds skip them (the killed CLI
// build checkpoints every 3 batches, so it has one early).
const options = (indexDir: string): NeuronIndexOptions => ({ indexDir, corpus, tokens: TOKENS, build: { batchContexts: BATCH, checkpointEveryBatches: 1000 } });

/** Every file under dir whose name ends with `suffix`. */
function find(dir: string, suffix: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith(suffix)).map((f) => join(dir, f));
}

async function build(index: NeuronIndex): Promise<void> {
  const steps = await index.prepareBuild();
  if (steps) while (await steps.step());
  expect(index.status().state).toBe('ready');
}

beforeAll(async () => {
  model = await loadModel(bundledModel);
  corpus = smallCorpus(tempDir('store-corpus')).path;
  referenceDir = tempDir('store-reference');
  await build(new NeuronIndex(model, options(referenceDir)));
  reference = readFileSync(find(referenceDir, '.nidx')[0]!);
});

describe('neuron index store', () => {
  it('resumes a build killed after its first checkpoint and ends byte-identical to an uninterrupted one', async () => {
    const dir = tempDir('store-killed');
    const child = spawn('npx', ['tsx', 'server/cli.ts', 'index', '--model', bundledModel, '--corpus', corpus, '--tokens', String(TOKENS),
      '--index-dir', dir, '--batch-contexts', String(BATCH), '--checkpoint-every', '3'], { cwd: root, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const deadline = Date.now() + 60_000;
    while (find(dir, '.checkpoint').length === 0) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the CLI ended before its first checkpoint:\n${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    process.kill(-child.pid!, 'SIGKILL'); // the whole group: npx, tsx and node
    await exited;
    expect(find(dir, '.nidx'), 'the build finished before it was killed').toHaveLength(0);

    const resumed = new NeuronIndex(model, options(dir));
    await resumed.locate(false);
    expect(resumed.status().done, 'the checkpoint is found before the build starts').toBeGreaterThan(0);
    const steps = await resumed.prepareBuild();
    const startedAt = resumed.status().done;
    expect(startedAt).toBeGreaterThan(0);
    expect(startedAt).toBeLessThan(resumed.status().total);
    while (await steps!.step());
    expect(resumed.status().state).toBe('ready');
    const [store] = find(dir, '.nidx');
    expect(readFileSync(store!).equals(reference)).toBe(true);
    expect(find(dir, '.checkpoint'), 'a finished build removes its checkpoint').toHaveLength(0);
    await resumed.dispose();
  });

  it('detects a truncated store, never serves it, moves it aside and rebuilds it identically', async () => {
    const dir = tempDir('store-truncated');
    cpSync(referenceDir, dir, { recursive: true });
    const [store] = find(dir, '.nidx');
    truncateSync(store!, Math.floor(statSync(store!).size / 2));

    const index = new NeuronIndex(model, options(dir));
    await index.locate(false);
    expect(index.status().state).toBe('absent');
    expect(index.status().message).toMatch(/truncated or partial/);
    expect(index.details(1, 3).indexed).toBeNull();
    expect(index.details(1, 3).promoted).toHaveLength(10); // logit effects come from the weights
    expect(existsSync(`${store}.corrupt`)).toBe(true);
    await build(index);
    expect(readFileSync(store!).equals(reference)).toBe(true);
    await index.dispose();
  });

  it('detects a damaged record when it is read, answers without it and rebuilds', async () => {
    const dir = tempDir('store-flipped');
    cpSync(referenceDir, dir, { recursive: true });
    const [store] = find(dir, '.nidx');
    const bytes = readFileSync(store!);
    bytes[bytes.length - 100]! ^= 0xff; // inside the last neuron's record
    writeFileSync(store!, bytes);

    const index = new NeuronIndex(model, options(dir));
    await index.start(true); // opens: header, directory and length are intact
    expect(index.status().state).toBe('ready');
    expect(index.details(0, 0).indexed).not.toBeNull();
    const { nLayers, dMlp } = model.decoder.spec;
    const messages: string[] = [];
    index.onStatus((status) => messages.push(`${status.state}: ${status.message}`));
    expect(index.details(nLayers - 1, dMlp - 1).indexed).toBeNull(); // its checksum fails
    expect(messages[0]).toMatch(/^absent: .*record \d+ checksum mismatch/);
    expect(existsSync(`${store}.corrupt`)).toBe(true);
    expect(index.details(0, 0).indexed, 'the rest of a damaged store is not served either').toBeNull();
    while (index.status().state !== 'ready') await new Promise((resolve) => setTimeout(resolve, 50));
    expect(readFileSync(store!).equals(reference)).toBe(true);
    expect(index.details(nLayers - 1, dMlp - 1).indexed).not.toBeNull();
    await index.dispose();
  });
});
