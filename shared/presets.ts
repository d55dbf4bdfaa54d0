/**
 * Example questions that show what the bundled model (assets/models/brown-gpt2: 4 layers, 8 heads)
 * really does, each a prompt with a single-token target and distractor (after the prompt), so no
 * example opens on a "several tokens" warning. tests/shared/presets.test.ts checks both facts on
 * the bundled model: every answer is one token, and the model prefers the target (Δ > 0).
 * Heads named here come from the model card's induction and previous-token tables.
 */

export interface Preset {
  id: string;
  title: string;
  /** One or two sentences: what to look at. */
  description: string;
  prompt: string;
  target: string;
  distractor: string;
}

export const presets: readonly Preset[] = [
  {
    id: 'phrase',
    title: 'A phrase it knows',
    description: 'After “The President of the United” it expects “ Nations” (54%) over “ States” (29%). Explain shows which neurons and tokens tip it.',
    prompt: 'The President of the United',
    target: ' Nations',
    distractor: ' States',
  },
  {
    id: 'induction',
    title: 'Induction: a repeated random list',
    description: 'Sixteen random words, then the same list again. Only copying can predict the repeat: induction heads L1H1, L1H2 and L1H4 look back to what followed “ green” last time.',
    prompt: ' river seven gold horse paper window car table green music doctor church money summer field king river seven gold horse paper window car table green',
    target: ' music',
    distractor: ' gold',
  },
  {
    id: 'previous-token',
    title: 'Previous-token head: finishing a name',
    description: 'Head L0H3 attends to the token just before each position, so “orn” carries “Th” with it; the induction heads then find “ber”, which followed “Th orn” before.',
    prompt: 'Mr. Thornberry came to the house. Everyone liked Mr. Thornberry. The next day Mr. Thorn',
    target: 'ber',
    distractor: 'ry',
  },
  {
    id: 'come-back',
    title: 'A sentence it completes well',
    description: '“He said that he would come back” is followed by “ to” (38%) far more than by a full stop (10%).',
    prompt: 'He said that he would come back',
    target: ' to',
    distractor: '.',
  },
];

/** The example a first visit opens with. */
export const defaultPreset: Preset = presets[0]!;

export function presetById(id: string): Preset | undefined {
  return presets.find((preset) => preset.id === id);
}
