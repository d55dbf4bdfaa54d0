/**
 * Error messages for people: the server's `code: event: detail` strings (see ErrorEvent in
 * shared/protocol.ts) turned into a sentence with no internal codes or event names, e.g.
 * `bad_request: run:prompt: "prompt" is 20000 characters, at most 8000 allowed` →
 * `The prompt is 20000 characters long; at most 8000 are allowed.`
 */

const codes = ['bad_request', 'too_long', 'busy', 'cancelled', 'internal', 'no_model'] as const;

function sentence(text: string): string {
  const trimmed = text.trim().replace(/\s+/g, ' ');
  if (trimmed.length === 0) return trimmed;
  const capital = trimmed[0]!.toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

export function plainError(message: string | null | undefined): string {
  if (!message) return '';
  let text = message.trim();
  let code: string | null = null;
  for (const candidate of codes) {
    if (text.startsWith(`${candidate}: `)) {
      code = candidate;
      text = text.slice(candidate.length + 2);
      break;
    }
  }
  // Event names such as `run:prompt: ` or `analysis:graph: ` (one or more, nested).
  while (/^[a-z]+(?::[a-z]+)+: /.test(text)) text = text.replace(/^[a-z]+(?::[a-z]+)+: /, '');
  text = text.replace(/^internal error: /, '');
  text = text.replace(/^"(\w+)" is (\d+) characters, at most (\d+) allowed/, (_, field: string, n: string, max: string) => `the ${field} is ${n} characters long; at most ${max} are allowed`);
  text = text.replace(/longer than the context window of (\d+)/, "longer than the model's context window of $1 tokens");
  if (code === 'busy') return sentence(`The server is busy with another request; try again in a moment${text ? ` (${text})` : ''}`);
  if (code === 'no_model') return 'The model is not loaded yet; wait for it and try again.';
  if (code === 'internal') return sentence(`Something went wrong on the server: ${text}`);
  return sentence(text);
}
