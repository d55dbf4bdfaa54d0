/**
 * Registers the server's platform (onnxruntime-node, worker-thread pruning) for every unit test (as server/main.ts and
 * the CLI do through server/engine/load.ts): tests build runners from random decoders directly.
 */
import '../../server/runtime.js';
