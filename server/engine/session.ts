/**
 * The server's ONNX Runtime (onnxruntime-node), registered as the engine's runtime on import
 * (shared/engine/session.ts): every session made from a graph the engine compiled (the forward
 * runner, the backward graphs, the bulk logit effects, transcoders) comes from here: the device with its CPU fallback and one
 * clear message, the thread count, and weights written to an external-data file when the graph
 * would pass protobuf's 2 GB message limit.
 */
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { GraphBuilder } from '../../shared/engine/onnx/graph-builder.js';
import { encodeModel } from '../../shared/engine/onnx/proto.js';
import { setEngineRuntime, type CreatedSession, type Device, type EngineSession, type SessionSettings } from '../../shared/engine/session.js';
import { ThreadSession } from './session-thread.js';

export { createSession, devices, rememberSessionSettings, sessionSettingsFor } from '../../shared/engine/session.js';
export type { CreatedSession, Device, EngineSession, SessionSettings } from '../../shared/engine/session.js';

/** protobuf's hard limit on one message (2 GiB − 1). */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;
export const DEFAULT_EXTERNAL_THRESHOLD = 1.5 * 2 ** 30;

/**
 * Bytes the graph's ModelProto would take: every initializer's payload plus the graph's
 * structure (names, nodes, attributes) counted generously. Large graphs are all weights, so
 * this is within a few kilobytes of the truth, and never below it by more than that.
 */
export function protoBytesEstimate(graph: GraphBuilder): number {
  let bytes = 1024;
  for (const t of graph.initializers) {
    const payload = graph.initializerData.get(t.name)?.byteLength ?? t.raw_data?.byteLength ?? 0;
    bytes += payload + t.name.length + 16 * t.dims.length + 32;
  }
  for (const node of graph.nodes) {
    bytes += node.name.length + node.op_type.length + 32;
    for (const name of [...node.input, ...node.output]) bytes += name.length + 4;
    for (const a of node.attribute) bytes += a.name.length + 32 + 10 * (a.ints?.length ?? 0) + 4 * (a.floats?.length ?? 0);
  }
  for (const v of [...graph.inputs, ...graph.outputs]) bytes += v.name.length + 32 + 16 * v.shape.length;
  return bytes;
}

/** Whether a graph must keep its weights in an external-data file. */
export function needsExternalData(graph: GraphBuilder, thresholdBytes = DEFAULT_EXTERNAL_THRESHOLD): boolean {
  return protoBytesEstimate(graph) > Math.min(thresholdBytes, PROTOBUF_LIMIT);
}

/** Whether onnxruntime-node's CUDA provider library is installed (the npm package lists CUDA as
 * a backend but ships it only after its installer fetched it: README, "GPU"). Asking ONNX
 * Runtime without it prints a load error of its own before failing. */
function cudaLibraryPresent(): boolean {
  try {
    const bin = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(join(bin, process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so'));
  } catch {
    return true; // unknown layout: let ONNX Runtime try
  }
}

/** Picks the execution provider, falling back to the CPU with one clear message. */
function executionProvider(device: Device, notice: (m: string) => void): Device {
  if (device === 'cpu') return device;
  const available = ort.listSupportedBackends?.() ?? [];
  if (!available.some((b) => b.name === device) || (device === 'cuda' && !cudaLibraryPresent())) {
    notice(device === 'cuda'
      ? 'CUDA was asked for but onnxruntime-node has no CUDA libraries here (see README, "GPU"); running on the CPU.'
      : `Device ${device} is not available in this onnxruntime-node build; running on the CPU.`);
    return 'cpu';
  }
  return device;
}

/** Writes the graph with every weight in one external-data file; returns the model path. The
 * graph's initializers then point into that file (the payloads stay in `initializerData`). */
function writeWithExternalData(graph: GraphBuilder, dir: string): string {
  const dataPath = join(dir, 'weights.bin');
  const fd = openSync(dataPath, 'w');
  let offset = 0;
  try {
    for (const init of graph.initializers) {
      const bytes = graph.initializerData.get(init.name);
      if (!bytes) continue; // small constants stay inline
      offset = Math.ceil(offset / 4096) * 4096; // page-aligned so ORT can map it
      // writeSync takes at most 2 GiB at once: a single huge weight goes in pieces.
      for (let at = 0; at < bytes.byteLength; at += 1 << 30) {
        const piece = bytes.subarray(at, Math.min(bytes.byteLength, at + (1 << 30)));
        writeSync(fd, piece, 0, piece.byteLength, offset + at);
      }
      init.raw_data = undefined;
      init.data_location = 1;
      init.external_data = [
        { key: 'location', value: 'weights.bin' },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(bytes.byteLength) },
      ];
      offset += bytes.byteLength;
    }
  } finally {
    closeSync(fd);
  }
  const modelPath = join(dir, 'model.onnx');
  writeFileSync(modelPath, encodeModel(graph.message()));
  return modelPath;
}


/**
 * A session for `graph` with these settings (the engine calls it through shared/engine/session.ts's
 * `createSession`). A device that is missing or fails to start falls
 * back to the CPU with one notice. The graph is encoded once per attempt and not kept.
 */
async function createNodeSession(graph: GraphBuilder, settings: SessionSettings = {}): Promise<CreatedSession> {
  const notice = settings.onNotice ?? ((m: string) => console.warn(m));
  const external = needsExternalData(graph, settings.externalDataThresholdBytes);
  const options = (device: Device): ort.InferenceSession.SessionOptions => ({
    executionProviders: [device] as ort.InferenceSession.SessionOptions['executionProviders'],
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    ...(settings.threads ? { intraOpNumThreads: settings.threads, interOpNumThreads: 1 } : {}),
    enableCpuMemArena: settings.cpuMemArena ?? false,
  });
  const open = async (model: Uint8Array | string, device: Device): Promise<EngineSession> => {
    if (settings.inThread === false) {
      const session = typeof model === 'string' ? await ort.InferenceSession.create(model, options(device)) : await ort.InferenceSession.create(model, options(device));
      return inProcess(session);
    }
    return ThreadSession.create(model, options(device));
  };
  const create = async (device: Device) => {
    if (!external) return open(encodeModel(graph.message()), device);
    const dir = mkdtempSync(join(tmpdir(), 'circuits-xr-onnx-'));
    try {
      return await open(writeWithExternalData(graph, dir), device);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  let device = executionProvider(settings.device ?? 'cpu', notice);
  try {
    return { session: await create(device), device, externalData: external };
  } catch (error) {
    if (device === 'cpu') throw error;
    notice(`Device ${device} failed to start (${(error as Error).message.split('\n')[0]}); running on the CPU.`);
    device = 'cpu';
    return { session: await create(device), device, externalData: external };
  }
}

/** A session on the calling thread. */
function inProcess(session: ort.InferenceSession): EngineSession {
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    run: (feeds, fetch) => (fetch ? session.run(feeds, [...fetch]) : session.run(feeds)), // every feed is read in place
    release: () => session.release(),
  };
}

/** onnxruntime-node is the engine's runtime in this process (registered on import). */
setEngineRuntime({
  createSession: createNodeSession,
  tensor: (type, data, dims) => new ort.Tensor(type, data, dims),
});
