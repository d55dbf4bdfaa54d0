/**
 * The graph Web Worker: parses, indexes and prunes attribution graphs off the main thread, so a
 * 1000-node trace arriving never freezes the page (see graph-jobs.ts for the work itself).
 */
import { GraphJobs, transferables, type GraphRequest } from './graph-jobs.js';

// The project's TypeScript lib is DOM, not WebWorker: describe the worker scope we use.
const scope = self as unknown as {
  onmessage: ((event: MessageEvent<GraphRequest>) => void) | null;
  postMessage(message: unknown, transfer: Transferable[]): void;
};

const jobs = new GraphJobs(true);
scope.onmessage = (event) => {
  void jobs.handle(event.data).then((reply) => scope.postMessage(reply, transferables(reply)));
};
