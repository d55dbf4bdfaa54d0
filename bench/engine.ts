/**
 * Engine benchmark on GPT-2-small shapes (random weights made on the fly): a 32-token
 * prefill with every hook captured vs logits only, incremental decoding with the full MLP
 * activation frame per token, and peak memory.
 */
import { allHookNames, hookName } from '../shared/engine/hooks.js';
import { gpt2SmallSpec, randomDecoder } from '../shared/engine/random-decoder.js';
import { ModelRunner } from '../shared/engine/runner.js';
import { median, row, type BenchRow } from './report.js';

export async function benchEngine(): Promise<BenchRow[]> {
  const decoder = randomDecoder(gpt2SmallSpec());
  const runner = await ModelRunner.create(decoder);
  const spec = decoder.spec;
  const prompt = Array.from({ length: 32 }, (_, i) => (i * 7919) % spec.vocabSize);
  const everyHook = allHookNames(spec);
  const timeRun = async (hooks: string[]) => {
    const times: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      await runner.run([prompt], { hooks });
      times.push(performance.now() - t0);
    }
    return median(times.slice(2)); // first runs warm up
  };
  const logitsOnly = await timeRun([]);
  const allHooks = await timeRun(everyHook);

  const mlpFrame = Array.from({ length: spec.nLayers }, (_, l) => hookName.mlpPost(l));
  const steps = 64;
  const run = runner.incremental();
  await run.feed(prompt, { hooks: mlpFrame });
  const t0 = performance.now();
  let token = 1;
  for (let i = 0; i < steps; i++) {
    const { logits } = await run.feed([token], { hooks: mlpFrame });
    token = (token * 31 + Math.round(logits.data[0]! * 1000)) % spec.vocabSize;
    if (token < 0) token += spec.vocabSize;
  }
  const tokensPerSecond = steps / ((performance.now() - t0) / 1000);
  await runner.dispose();
  const peakMiB = process.resourceUsage().maxRSS / 1024;
  return [
    row('engine', 'prefill 32 tokens, logits only', logitsOnly, 'ms'),
    row('engine', `prefill 32 tokens, all ${everyHook.length} hooks`, allHooks, 'ms', 'target ≤ 300 ms'),
    row('engine', 'capture overhead (all hooks / logits only)', allHooks / logitsOnly, '×', 'target ≤ 1.5×'),
    row('engine', 'decode with KV cache + full MLP frame (prompt 32, 64 steps)', tokensPerSecond, 'tokens/s', 'target ≥ 25'),
    row('engine', 'peak RSS of the process so far', peakMiB, 'MiB'),
  ];
}
