/**
 * The store's durability: a build killed (SIGKILL, in a CLI child process) after its first
 * checkpoint resumes and ends byte-identical to an uninterrupted build; so does one killed just
 * after a checkpoint written by time (not by batch count), whose first checkpoint came after its
 * first batch; a truncated store, a
 * damaged header or a flipped byte in a record is detected, moved aside, never served, and
 * rebuilt identically; a failed checkpoint, a stale corpus key and crash leftovers do not wedge it.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LoadedModel } from '../../../shared/engine/decoder.js';
import { loadModel } from '../../../server/engine/load.js';
import { removeStaleTemps } from '../../../server/neurons/atomic-file.js';
import { checkpointContexts } from '../../../server/neurons/checkpoint.js';
import { contextLengthFor } from '../../../server/neurons/contexts.js';
import { NeuronIndex, type NeuronIndexOptions } from '../../../server/neurons/service.js';
import { bundledModel, mediumCorpus, smallCorpus, tempDir } from './fixtures.js';

const root = new URL('../../../', import.meta.url).pathname;
const TOKENS = 6000;
const BATCH = 4;
let referenceDir: string;
let model: LoadedModel;
let corpus: string;
let reference: Buffer;

// Checkpoint frequency does not change the result: in-process builds write few (the first batch's
// and the corpus end's; the killed CLI builds checkpoint early and often).
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
      '--index-dir', dir, '--no-transcoders', '--batch-contexts', String(BATCH), '--checkpoint-every', '3'], { cwd: root, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
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

  it('checkpoints after its first batch, then by time; killed after a time-based checkpoint, it resumes from it byte-identical', async () => {
    const TIME_TOKENS = 16_000;
    const big = mediumCorpus(tempDir('store-time-corpus')).path;
    const timeOptions = (indexDir: string): NeuronIndexOptions => ({ indexDir, corpus: big, tokens: TIME_TOKENS, build: { batchContexts: BATCH, checkpointEveryBatches: 100_000 } });
    const referenceIndex = new NeuronIndex(model, timeOptions(tempDir('store-time-reference')));
    await build(referenceIndex);
    const expected = readFileSync(referenceIndex.storePath!);
    await referenceIndex.dispose();

    const dir = tempDir('store-time-killed');
    // Batch-count checkpoints are off (every 100,000 batches): after the first batch's, only the clock writes them.
    const child = spawn('npx', ['tsx', 'server/cli.ts', 'index', '--model', bundledModel, '--corpus', big, '--tokens', String(TIME_TOKENS),
      '--index-dir', dir, '--no-transcoders', '--batch-contexts', String(BATCH), '--checkpoint-every', '100000', '--checkpoint-seconds', '0.1'],
    { cwd: root, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const seen: number[] = [];
    const deadline = Date.now() + 120_000;
    while (seen.length < 2) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the CLI ended before its second checkpoint (saw ${seen}):\n${stderr}`);
      const [path] = find(dir, '.checkpoint');
      const contexts = path ? checkpointContexts(path) : 0;
      if (contexts > 0 && contexts !== seen[seen.length - 1]) seen.push(contexts);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
    expect(find(dir, '.nidx'), 'the build finished before it was killed').toHaveLength(0);
    expect(seen[0], 'the first checkpoint comes after the first batch').toBe(BATCH);
    const kept = checkpointContexts(find(dir, '.checkpoint')[0]!);
    expect(kept, 'a later checkpoint, written by time').toBeGreaterThan(BATCH);
    const C = contextLengthFor(model.decoder.spec);
    expect(kept, 'written by time before the corpus was done, not at its end').toBeLessThan(Math.floor(TIME_TOKENS / C));

    const resumed = new NeuronIndex(model, timeOptions(dir));
    const steps = await resumed.prepareBuild();
    expect(resumed.status().done, 'resumes from the time-based checkpoint').toBe(kept * C);
    while (await steps!.step());
    expect(resumed.status().state).toBe('ready');
    expect(readFileSync(resumed.storePath!).equals(expected)).toBe(true);
    await resumed.dispose();
  }, 240_000);

  // Damage that opening the store must catch (sizes, header), each moved aside and rebuilt.
  const damages: [string, (bytes: Buffer) => Buffer, RegExp][] = [
    ['a truncated store', (bytes) => bytes.subarray(0, Math.floor(bytes.length / 2)), /truncated or partial/],
    ['a header length beyond the file', (bytes) => { bytes.writeUInt32LE(0xfffffff0, 12); return bytes; }, /a header of 4294967280 bytes/],
    ['a header that is not an object', (bytes) => {
      const length = bytes.readUInt32LE(12);
      bytes.write('null'.padEnd(length, ' '), 32, 'utf8');
      return bytes;
    }, /the header is not an object/],
    ['a header that is not its checksum', (bytes) => {
      const at = 32 + bytes.subarray(32, 32 + bytes.readUInt32LE(12)).indexOf('"nLayers"');
      bytes.write('"nLayerz"', at, 'utf8'); // still JSON, still an object
      return bytes;
    }, /no neurons in the header|checksum mismatch/],
  ];
  it.each(damages)('detects %s, never serves it, moves it aside and rebuilds it identically', async (_, damage, message) => {
    const dir = tempDir('store-damaged');
    cpSync(referenceDir, dir, { recursive: true });
    const [store] = find(dir, '.nidx');
    writeFileSync(store!, damage(readFileSync(store!)));

    const index = new NeuronIndex(model, options(dir));
    await index.locate(false);
    expect(index.status().state).toBe('absent');
    expect(index.status().message).toMatch(message);
    expect(index.details(1, 3).indexed).toBeNull();
    expect(index.details(1, 3).promoted).toHaveLength(10); // logit effects come from the weights
    expect(existsSync(`${store}.corrupt`)).toBe(true);
    await build(index);
    expect(readFileSync(store!).equals(reference)).toBe(true);
    await index.dispose();
  });

  it('a cancel whose checkpoint cannot be written says so, and a later build still runs', async () => {
    const dir = tempDir('store-checkpoint-fails');
    const index = new NeuronIndex(model, options(dir));
    const steps = await index.prepareBuild();
    expect(await steps!.step()).toBe(true);
    const checkpoint = index.storePath!.replace(/\.nidx$/, '.checkpoint');
    rmSync(checkpoint, { force: true }); // the first batch's checkpoint
    mkdirSync(checkpoint, { recursive: true }); // a folder where the checkpoint file goes: its rename fails
    await index.cancel();
    expect(index.status().state).toBe('cancelled');
    expect(index.status().message).toMatch(/checkpoint could not be written/);
    rmSync(checkpoint, { recursive: true });
    await build(index);
    expect(readFileSync(index.storePath!).equals(reference)).toBe(true);
    await index.dispose();
  });

  it('finds its store when the cached corpus key is stale, instead of failing every build', async () => {
    const dir = tempDir('store-stale-key');
    cpSync(referenceDir, dir, { recursive: true });
    const keysFile = join(dir, 'corpus-keys.json');
    writeFileSync(keysFile, readFileSync(keysFile, 'utf8').replace(/"key":\s*"[0-9a-f]+"/g, `"key":"${'0'.repeat(64)}"`));
    const index = new NeuronIndex(model, options(dir));
    await index.locate(false);
    expect(index.status().state).not.toBe('ready'); // the stale key names no store
    expect(await index.prepareBuild()).toBeNull(); // tokenizing finds the real key and its store
    expect(index.status().state).toBe('ready');
    expect(readFileSync(keysFile, 'utf8')).not.toContain('0'.repeat(64));
    await index.dispose();
  });

  it('removes temporary files of processes that died mid-write, and only those', async () => {
    const dir = tempDir('store-temps');
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((resolve) => dead.once('exit', resolve));
    writeFileSync(join(dir, `a.nidx.tmp-${dead.pid}-1`), 'left by a crash');
    writeFileSync(join(dir, `a.nidx.tmp-${process.pid}-1`), 'being written now');
    writeFileSync(join(dir, 'a.nidx'), 'a store');
    expect(removeStaleTemps(dir)).toBe(1);
    expect(readdirSync(dir).sort()).toEqual(['a.nidx', `a.nidx.tmp-${process.pid}-1`]);
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
