// A checkpoint: every named weight tensor of a model, wherever it is stored. Hugging Face folders hold either one
// model.safetensors or, for larger models, shards listed by model.safetensors.index.json:
//   { "metadata": { "total_size": ... }, "weight_map": { "wte.weight": "model-00001-of-00002.safetensors", ... } }
import type { ModelFiles } from './files.ts';
import { FLOAT_DTYPES, parseSafetensors, QUANTIZE_AT_LOAD, SafetensorsError, type Dtype, type SafetensorsFile } from './safetensors.ts';

export interface Checkpoint {
  /** Where the weights came from, for messages. */
  readonly source: string;
  names(): string[];
  has(name: string): boolean;
  shape(name: string): number[];
  dtype(name: string): Dtype;
  /** A fresh Float32Array of the tensor's values, whatever float dtype it is stored in. */
  getF32(name: string): Float32Array;
  /** The raw f16 bits of an F16 tensor, for uploading packed halves without converting twice. */
  getF16Bits?(name: string): Uint16Array;
}

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

/**
 * Open the checkpoint in a model folder: model.safetensors if present, else the shards of the index. A checkpoint
 * another tool quantized is refused here, before its names and shapes are matched to the model's.
 */
export async function openCheckpoint(files: ModelFiles): Promise<Checkpoint> {
  let checkpoint: Checkpoint;
  if (await files.exists(SINGLE_FILE)) {
    const source = `${files.name}/${SINGLE_FILE}`;
    const file = parseSafetensors(await files.readBytes(SINGLE_FILE), source);
    checkpoint = checkpointFromShards(source, new Map([...file.tensors.keys()].map((name) => [name, file])));
  } else if (await files.exists(INDEX_FILE)) {
    checkpoint = await openSharded(files);
  } else {
    throw new SafetensorsError('missing', `${files.name} has neither ${SINGLE_FILE} nor ${INDEX_FILE}: download the model's safetensors weights into it`);
  }
  refuseQuantized(checkpoint);
  return checkpoint;
}

/**
 * The tensors other tools add when they quantize a checkpoint, by tool. GPTQ and AWQ replace a Linear's weight by
 * packed int4s in I32 (`qweight`), zero points (`qzeros`), scales and GPTQ's group index (`g_idx`); bitsandbytes
 * keeps `weight` as U8 (4-bit, with `absmax`, `quant_map` and `quant_state.*`) or I8 (LLM.int8, with `SCB`).
 */
const QUANTIZED_BY: { tool: string; pattern: RegExp }[] = [
  { tool: 'GPTQ or AWQ', pattern: /\.(qweight|qzeros|scales|g_idx)$/ },
  { tool: 'bitsandbytes', pattern: /\.(absmax|quant_map|SCB|weight_format)$|\.quant_state\./ },
];

/** One line for a checkpoint another tool quantized, or whose weights are in a dtype wgpt does not read as floats. */
function refuseQuantized(checkpoint: Checkpoint): void {
  const names = checkpoint.names();
  for (const { tool, pattern } of QUANTIZED_BY) {
    const name = names.find((n) => pattern.test(n));
    if (name !== undefined) {
      throw new SafetensorsError('dtype', `${checkpoint.source} holds weights quantized by ${tool} (tensor '${name}', ${checkpoint.dtype(name)}), a format wgpt does not read: ${QUANTIZE_AT_LOAD}`);
    }
  }
  const weight = names.find((n) => n.endsWith('.weight') && !FLOAT_DTYPES.includes(checkpoint.dtype(n)));
  if (weight !== undefined) {
    throw new SafetensorsError('dtype', `${checkpoint.source}: tensor '${weight}' is ${checkpoint.dtype(weight)}, a dtype wgpt does not read as weights (quantized by another tool?): ${QUANTIZE_AT_LOAD}`);
  }
}

async function openSharded(files: ModelFiles): Promise<Checkpoint> {
  const source = `${files.name}/${INDEX_FILE}`;
  const weightMap = parseIndex(await files.readText(INDEX_FILE), source);

  // Open each shard once, then check it holds every tensor the index sends to it.
  const shards = new Map<string, SafetensorsFile>();
  for (const shard of new Set(weightMap.values())) {
    if (!(await files.exists(shard))) {
      throw new SafetensorsError('missing', `${source} lists the shard ${shard} but ${files.name} has no such file: download it`);
    }
    shards.set(shard, parseSafetensors(await files.readBytes(shard), `${files.name}/${shard}`));
  }
  const where = new Map<string, SafetensorsFile>();
  for (const [name, shard] of weightMap) {
    const file = shards.get(shard)!;
    if (!file.has(name)) {
      throw new SafetensorsError('missing', `${source} puts tensor '${name}' in ${shard}, but that shard has no such tensor: download the shards again`);
    }
    where.set(name, file);
  }
  return checkpointFromShards(source, where);
}

/** The index's weight_map: tensor name -> shard file name. */
function parseIndex(text: string, source: string): Map<string, string> {
  const bad = (what: string) => new SafetensorsError('index', `${source} is not a valid shard index: ${what}; download it again`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw bad(`it is not JSON (${(e as Error).message})`);
  }
  const weightMap = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) throw bad('it has no weight_map object');
  const map = new Map<string, string>();
  for (const [name, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string') throw bad(`weight_map['${name}'] is not a file name`);
    map.set(name, shard);
  }
  if (map.size === 0) throw bad('its weight_map is empty');
  return map;
}

/** A Checkpoint over tensors that live in one or more parsed files. */
function checkpointFromShards(source: string, where: Map<string, SafetensorsFile>): Checkpoint {
  const file = (name: string): SafetensorsFile => {
    const f = where.get(name);
    if (!f) throw new SafetensorsError('missing', `${source} has no tensor '${name}': the checkpoint does not hold the weights this model needs`);
    return f;
  };
  return {
    source,
    names: () => [...where.keys()],
    has: (name) => where.has(name),
    shape: (name) => [...file(name).info(name).shape],
    dtype: (name) => file(name).info(name).dtype,
    getF32: (name) => file(name).getF32(name),
    getF16Bits: (name) => file(name).getF16Bits(name),
  };
}
