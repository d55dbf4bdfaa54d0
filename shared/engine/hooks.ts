/**
 * Hook names, TransformerLens style. One builder for every name the engine, the analysis,
 * the protocol and the client use (`blocks.3.mlp.hook_post`).
 */
import type { DecoderSpec } from './decoder.js';

export const hookName = {
  embed: 'hook_embed',
  posEmbed: 'hook_pos_embed',
  residPre: (l: number) => `blocks.${l}.hook_resid_pre`,
  ln1Scale: (l: number) => `blocks.${l}.ln1.hook_scale`,
  q: (l: number) => `blocks.${l}.attn.hook_q`,
  k: (l: number) => `blocks.${l}.attn.hook_k`,
  v: (l: number) => `blocks.${l}.attn.hook_v`,
  pattern: (l: number) => `blocks.${l}.attn.hook_pattern`,
  z: (l: number) => `blocks.${l}.attn.hook_z`,
  attnOut: (l: number) => `blocks.${l}.hook_attn_out`,
  residMid: (l: number) => `blocks.${l}.hook_resid_mid`,
  ln2Scale: (l: number) => `blocks.${l}.ln2.hook_scale`,
  mlpPre: (l: number) => `blocks.${l}.mlp.hook_pre`,
  mlpPreLinear: (l: number) => `blocks.${l}.mlp.hook_pre_linear`,
  mlpPost: (l: number) => `blocks.${l}.mlp.hook_post`,
  mlpOut: (l: number) => `blocks.${l}.hook_mlp_out`,
  residPost: (l: number) => `blocks.${l}.hook_resid_post`,
  lnFinalScale: 'ln_final.hook_scale',
  logits: 'logits',
} as const;

/** Every hook the model exposes, in model order. */
export function allHookNames(spec: DecoderSpec): string[] {
  const names: string[] = [hookName.embed];
  if (spec.positional.kind === 'learned') names.push(hookName.posEmbed);
  for (let l = 0; l < spec.nLayers; l++) {
    names.push(
      hookName.residPre(l), hookName.ln1Scale(l),
      hookName.q(l), hookName.k(l), hookName.v(l), hookName.pattern(l), hookName.z(l),
      hookName.attnOut(l), hookName.residMid(l), hookName.ln2Scale(l), hookName.mlpPre(l),
    );
    if (spec.mlp.kind === 'gated') names.push(hookName.mlpPreLinear(l));
    names.push(hookName.mlpPost(l), hookName.mlpOut(l), hookName.residPost(l));
  }
  names.push(hookName.lnFinalScale);
  return names;
}
