/**
 * The server's request limits, shared so the client can check a request before sending it and
 * say what is wrong next to the input, instead of learning it from a refusal (or, for messages
 * past the transport limit, from a closed connection).
 */
export const requestLimits = {
  /** Characters of a prompt (run, generate, analysis questions, tokenize). */
  promptCharacters: 8000,
  /** Tokens one generation may ask for. */
  maxTokens: 1024,
  /** Predictions one run may ask for. */
  topK: 50,
  /** Token ids per vocabulary lookup. */
  vocabLookup: 4096,
  /** Bytes of one message the server reads; a bigger one is answered with a 'too_large' error. */
  messageBytes: 1 << 20,
  /** Bytes beyond which the transport itself closes the connection (websocket close code 1009). */
  transportBytes: 4 << 20,
} as const;

/** Why a prompt cannot be sent, in words, or null when it can. */
export function promptProblem(prompt: string): string | null {
  if (prompt.length === 0) return 'the prompt is empty';
  if (prompt.length > requestLimits.promptCharacters) {
    return `the prompt is ${prompt.length.toLocaleString('en')} characters; the server accepts at most ${requestLimits.promptCharacters.toLocaleString('en')}`;
  }
  return null;
}
