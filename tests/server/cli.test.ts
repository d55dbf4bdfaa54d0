/**
 * The CLI as people and acceptance checks use it: output shapes of logits/hooks/generate, and
 * bad input failing with one clear line and a non-zero exit, never a bare stack trace; output
 * piped into a slow reader arrives whole (the CLI waits for stdout to drain before exiting).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeRandomGpt2 } from '../helpers/random-checkpoint.js';
import { runCli } from '../helpers/cli.js';

const root = new URL('../../', import.meta.url).pathname;
const tsx = join(root, 'node_modules/.bin/tsx');

const cli = runCli;

const model = writeRandomGpt2(mkdtempSync(join(tmpdir(), 'cxr-cli-')), { nLayer: 2, nPositions: 16, seed: 3 });

/** A copy of the model directory with model.safetensors replaced. */
function variant(mutate: (bytes: Buffer) => Buffer, config?: (c: Record<string, unknown>) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'cxr-cli-bad-'));
  copyFileSync(join(model.dir, 'config.json'), join(dir, 'config.json'));
  if (config) {
    const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    config(c);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
  }
  writeFileSync(join(dir, 'model.safetensors'), mutate(readFileSync(join(model.dir, 'model.safetensors'))));
  return dir;
}

/** Rewrites the safetensors JSON header (keeping the data). */
function editHeader(bytes: Buffer, edit: (h: Record<string, { shape: number[] }>) => void): Buffer {
  const length = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8'));
  edit(header);
  let json = Buffer.from(JSON.stringify(header));
  if (json.length < length) json = Buffer.concat([json, Buffer.alloc(length - json.length, 0x20)]);
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([out, json, bytes.subarray(8 + length)]);
}

function expectCleanFailure(result: { code: number; stderr: string }, pattern: RegExp) {
  expect(result.code).not.toBe(0);
  expect(result.stderr).toMatch(/^error: /m);
  expect(result.stderr).toMatch(pattern);
  expect(result.stderr).not.toMatch(/^\s+at /m); // no stack trace
}

describe('CLI', () => {
  it('logits --json: one object with tokens and V logits per position', async () => {
    const { code, stdout } = await cli(['logits', '--model', model.dir, '--tokens', '1,2,3', '--json']);
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    expect(out.tokens).toEqual([1, 2, 3]);
    expect(out.logits).toHaveLength(3);
    expect(out.logits[0]).toHaveLength(model.config.vocab_size);
    const last = JSON.parse((await cli(['logits', '--model', model.dir, '--tokens', '1,2,3', '--positions', 'last', '--json'])).stdout);
    expect(last.logits).toEqual([out.logits[2]]);
  });

  it('hooks --json: shapes and values without the batch dimension', async () => {
    const { code, stdout } = await cli(['hooks', '--model', model.dir, '--tokens', '4,5,6,7', '--hook', 'blocks.1.mlp.hook_post',
      '--hook', 'blocks.0.attn.hook_pattern', '--json']);
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    expect(out.hooks['blocks.1.mlp.hook_post'].shape).toEqual([4, 4 * model.config.n_embd]);
    expect(out.hooks['blocks.0.attn.hook_pattern'].shape).toEqual([model.config.n_head, 4, 4]);
    expect(out.hooks['blocks.0.attn.hook_pattern'].values).toHaveLength(model.config.n_head * 16);
  });

  it('pipes megabytes of JSON whole into a slow reader in another process', async () => {
    // The bundled model: 128 positions × 4096 logits is about 10 MB of JSON, far past a pipe's 64 KiB.
    const bundled = join(root, 'assets/models/brown-gpt2');
    const tokens = Array.from({ length: 128 }, (_, i) => (i * 31) % 4000).join(',');
    const args = ['server/cli.ts', 'logits', '--model', bundled, '--tokens', tokens, '--positions', 'all', '--json'];
    const dir = mkdtempSync(join(tmpdir(), 'cxr-cli-pipe-'));
    // The parser starts reading only after the CLI has finished computing: everything past the
    // pipe's buffer is still in the CLI's process when it is done.
    const parser = `setTimeout(() => { const parts = []; process.stdin.on('data', (c) => parts.push(c));
      process.stdin.on('end', () => { const text = Buffer.concat(parts); let parsed = null;
        try { const o = JSON.parse(text.toString('utf8')); parsed = { rows: o.logits.length, width: o.logits[0].length, tokens: o.tokens.length }; } catch {}
        process.stdout.write(JSON.stringify({ bytes: text.length, parsed })); }); }, 4000);`;
    const script = `'${tsx}' ${args.map((a) => `'${a}'`).join(' ')} | '${process.execPath}' -e "$PARSER" > '${join(dir, 'parsed.json')}'`
      + ` && '${tsx}' ${args.map((a) => `'${a}'`).join(' ')} > '${join(dir, 'file.json')}'`;
    const child = spawn('bash', ['-o', 'pipefail', '-c', script], { cwd: root, env: { ...process.env, PARSER: parser }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, stderr).toBe(0);
    const received = JSON.parse(readFileSync(join(dir, 'parsed.json'), 'utf8')) as { bytes: number; parsed: { rows: number; width: number; tokens: number } | null };
    const written = statSync(join(dir, 'file.json')).size;
    expect(written).toBeGreaterThan(5 << 20);
    expect(received.bytes, 'bytes through the pipe vs the same output written to a file').toBe(written);
    expect(received.parsed, 'the piped JSON parses').toEqual({ rows: 128, width: 4096, tokens: 128 });
  }, 60_000);

  it('fails clearly on a missing model path', async () => {
    expectCleanFailure(await cli(['info', '--model', '/nonexistent/model']), /nonexistent/);
  });

  it('fails clearly on a truncated safetensors file', async () => {
    expectCleanFailure(await cli(['info', '--model', variant((b) => b.subarray(0, 6))]), /safetensors/i);
    expectCleanFailure(await cli(['info', '--model', variant((b) => b.subarray(0, b.length - 100))]), /safetensors|truncated|data|offset/i);
  });

  it('fails clearly on a corrupt safetensors header', async () => {
    expectCleanFailure(await cli(['info', '--model', variant((b) => { const c = Buffer.from(b); c.write('{{{{', 8); return c; })]), /header|JSON/i);
  });

  it('names a tensor of the wrong shape', async () => {
    const dir = variant((b) => editHeader(b, (h) => {
      const name = Object.keys(h).find((k) => k.endsWith('h.1.mlp.c_proj.bias'))!;
      h[name]!.shape = [h[name]!.shape[0]! / 2, 2];
    }));
    expectCleanFailure(await cli(['info', '--model', dir]), /h\.1\.mlp\.c_proj\.bias/);
  });

  it('rejects an unsupported architecture', async () => {
    const dir = variant((b) => b, (c) => { c.architectures = ['MambaForCausalLM']; c.model_type = 'mamba'; });
    expectCleanFailure(await cli(['info', '--model', dir]), /Mamba/);
  });

  it('rejects a prompt longer than the context window and an empty --tokens', async () => {
    const long = Array.from({ length: 20 }, (_, i) => i + 1).join(',');
    expectCleanFailure(await cli(['logits', '--model', model.dir, '--tokens', long, '--json']), /context window of 16/);
    expectCleanFailure(await cli(['logits', '--model', model.dir, '--tokens', '', '--json']), /--tokens is empty/);
  });
});
