/**
 * The server's platform under the shared engine: onnxruntime-node sessions in worker threads
 * (engine/session.ts) and graph pruning in a worker thread (analysis/prune-thread.ts), each
 * registered on import. Imported by the model loader, so every server entry point has it.
 */
import './engine/session.js';
import './analysis/prune-thread.js';
