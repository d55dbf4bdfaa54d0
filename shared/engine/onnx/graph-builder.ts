/**
 * A small imperative builder for ONNX graphs: every call appends one node and returns the
 * name of its output, so graph construction reads like a forward pass.
 */
import type { Tensor } from '../decoder.js';
import {
  AttributeType, DataType, type AttributeMessage, type ModelMessage, type NodeMessage,
  type TensorMessage, type ValueInfoMessage,
} from './proto.js';

export const attr = {
  int: (name: string, i: number): AttributeMessage => ({ name, type: AttributeType.INT, i }),
  ints: (name: string, ints: number[]): AttributeMessage => ({ name, type: AttributeType.INTS, ints }),
  float: (name: string, f: number): AttributeMessage => ({ name, type: AttributeType.FLOAT, f }),
};

function littleEndianBytes(data: Float32Array | BigInt64Array): Uint8Array {
  // Node and every browser we target are little-endian, as ONNX raw_data requires.
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export class GraphBuilder {
  readonly nodes: NodeMessage[] = [];
  readonly initializers: TensorMessage[] = [];
  readonly inputs: ValueInfoMessage[] = [];
  readonly outputs: ValueInfoMessage[] = [];
  /** Initializer payloads in insertion order, for writing external data. */
  readonly initializerData = new Map<string, Uint8Array>();
  private counter = 0;

  constructor(readonly opset: number) {}

  /** Appends a node; returns its (first) output name. `output` names it explicitly. */
  op(opType: string, inputs: string[], attributes: AttributeMessage[] = [], output?: string): string {
    const name = output ?? `${opType.toLowerCase()}_${this.counter++}`;
    this.nodes.push({ op_type: opType, input: inputs, output: [name], name: `n_${name}`, attribute: attributes });
    return name;
  }

  /** A node with several outputs (Split). */
  opMulti(opType: string, inputs: string[], outputCount: number, attributes: AttributeMessage[] = []): string[] {
    const base = `${opType.toLowerCase()}_${this.counter++}`;
    const outputs = Array.from({ length: outputCount }, (_, i) => `${base}_${i}`);
    this.nodes.push({ op_type: opType, input: inputs, output: outputs, name: `n_${base}`, attribute: attributes });
    return outputs;
  }

  /** A float32 weight. */
  weight(name: string, tensor: Tensor): string {
    const bytes = littleEndianBytes(tensor.data);
    this.initializers.push({ name, dims: tensor.shape, data_type: DataType.FLOAT, raw_data: bytes });
    this.initializerData.set(name, bytes);
    return name;
  }

  /** A small int64 constant (shapes, axes, split sizes). */
  int64s(values: number[], dims: number[] = [values.length]): string {
    const name = `const_i64_${this.counter++}`;
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dims, data_type: DataType.INT64, raw_data: littleEndianBytes(data) });
    return name;
  }

  /** A float32 scalar constant. */
  scalar(value: number): string {
    const name = `const_f32_${this.counter++}`;
    const data = Float32Array.of(value);
    this.initializers.push({ name, dims: [], data_type: DataType.FLOAT, raw_data: littleEndianBytes(data) });
    return name;
  }

  input(name: string, elemType: number, shape: (number | string)[]): string {
    this.inputs.push({ name, elemType, shape });
    return name;
  }

  /** Exposes an existing value as a graph output under `name` (an Identity keeps names stable). */
  output(value: string, name: string, shape: (number | string)[], elemType: number = DataType.FLOAT): string {
    const out = value === name ? name : this.op('Identity', [value], [], name);
    this.outputs.push({ name: out, elemType, shape });
    return out;
  }

  /**
   * Drops every output not in `keep`, then every node, initializer and input that no kept
   * output depends on. ONNX Runtime's inference builds execute the whole graph whatever a run
   * fetches, so a graph that must not compute (say) the logits has to lose them here.
   */
  keepOutputs(keep: readonly string[]): this {
    const wanted = new Set(keep);
    const missing = keep.filter((name) => !this.outputs.some((o) => o.name === name));
    if (missing.length > 0) throw new Error(`graph: no outputs named ${missing.join(', ')}`);
    const producer = new Map<string, NodeMessage>();
    for (const node of this.nodes) for (const out of node.output) producer.set(out, node);
    const needed = new Set<string>();
    const live = new Set<NodeMessage>();
    const stack = [...wanted];
    while (stack.length > 0) {
      const value = stack.pop()!;
      if (needed.has(value)) continue;
      needed.add(value);
      const node = producer.get(value);
      if (node && !live.has(node)) {
        live.add(node);
        stack.push(...node.input.filter((input) => input !== ''));
      }
    }
    const kept = <T>(list: T[], keepItem: (item: T) => boolean) => list.splice(0, list.length, ...list.filter(keepItem));
    kept(this.outputs, (o) => wanted.has(o.name));
    kept(this.nodes, (n) => live.has(n));
    kept(this.initializers, (t) => needed.has(t.name));
    kept(this.inputs, (v) => needed.has(v.name));
    for (const name of [...this.initializerData.keys()]) if (!needed.has(name)) this.initializerData.delete(name);
    return this;
  }

  message(): ModelMessage {
    return {
      nodes: this.nodes, initializers: this.initializers,
      inputs: this.inputs, outputs: this.outputs, opset: this.opset,
    };
  }
}
