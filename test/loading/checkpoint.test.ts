import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/loading/checkpoint.ts';
import { ModelFilesError, nodeModelFiles } from '../../src/loading/files.ts';
import { SafetensorsError, writeSafetensors } from '../../src/loading/safetensors.ts';
import { Rng } from '../../src/random.ts';
import { randomArray } from '../helpers.ts';

let root: string;
const rng = new Rng(10);
const wte = randomArray(rng, 7 * 3);
const wpe = randomArray(rng, 5 * 3);
const bias = randomArray(rng, 3);

/** A fresh folder under the test's temp dir holding `files` (bytes or JSON). */
async function folder(name: string, files: Record<string, Uint8Array | object>): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) {
    await writeFile(join(dir, file), content instanceof Uint8Array ? content : JSON.stringify(content));
  }
  return dir;
}

const shard1 = writeSafetensors({ 'wte.weight': { dtype: 'F32', shape: [7, 3], data: wte } });
const shard2 = writeSafetensors({ 'wpe.weight': { dtype: 'F16', shape: [5, 3], data: wpe }, 'ln_f.bias': { dtype: 'F32', shape: [3], data: bias } });
const index = {
  metadata: { total_size: 7 * 3 * 4 + 5 * 3 * 2 + 3 * 4 },
  weight_map: { 'wte.weight': 'model-00001-of-00002.safetensors', 'wpe.weight': 'model-00002-of-00002.safetensors', 'ln_f.bias': 'model-00002-of-00002.safetensors' },
};

async function expectRejects(promise: Promise<unknown>, type: typeof SafetensorsError | typeof ModelFilesError, code: string, ...inMessage: string[]) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(type);
  const { code: actual, message } = error as SafetensorsError | ModelFilesError;
  expect(actual, message).toBe(code);
  for (const part of inMessage) expect(message).toContain(part);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'wgpt-checkpoint-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('openCheckpoint', () => {
  it('reads a single model.safetensors', async () => {
    const dir = await folder('single', { 'model.safetensors': writeSafetensors({ 'wte.weight': { dtype: 'F32', shape: [7, 3], data: wte } }) });
    const checkpoint = await openCheckpoint(nodeModelFiles(dir));
    expect(checkpoint.names()).toEqual(['wte.weight']);
    expect(checkpoint.shape('wte.weight')).toEqual([7, 3]);
    expect(checkpoint.dtype('wte.weight')).toBe('F32');
    expect(checkpoint.getF32('wte.weight')).toEqual(wte);
    await expectRejects(Promise.resolve().then(() => checkpoint.getF32('wpe.weight')), SafetensorsError, 'missing', "'wpe.weight'", `${dir}/model.safetensors`);
  });

  it('reads a sharded checkpoint through model.safetensors.index.json', async () => {
    const dir = await folder('sharded', {
      'model.safetensors.index.json': index,
      'model-00001-of-00002.safetensors': shard1,
      'model-00002-of-00002.safetensors': shard2,
    });
    const checkpoint = await openCheckpoint(nodeModelFiles(dir));
    expect(checkpoint.names().sort()).toEqual(['ln_f.bias', 'wpe.weight', 'wte.weight']);
    expect(checkpoint.getF32('wte.weight')).toEqual(wte);
    expect(checkpoint.getF32('ln_f.bias')).toEqual(bias);
    expect(checkpoint.dtype('wpe.weight')).toBe('F16');
    expect(checkpoint.shape('wpe.weight')).toEqual([5, 3]);
    expect(checkpoint.getF16Bits!('wpe.weight').length).toBe(15);
    expect(checkpoint.has('lm_head.weight')).toBe(false);
    await expectRejects(Promise.resolve().then(() => checkpoint.getF32('lm_head.weight')), SafetensorsError, 'missing', "'lm_head.weight'", 'index.json');
  });

  it('refuses an index whose shard is missing, or whose shard lacks a tensor it lists', async () => {
    const noShard = await folder('no-shard', { 'model.safetensors.index.json': index, 'model-00001-of-00002.safetensors': shard1 });
    await expectRejects(openCheckpoint(nodeModelFiles(noShard)), SafetensorsError, 'missing', 'model-00002-of-00002.safetensors');

    const wrongShard = await folder('wrong-shard', {
      'model.safetensors.index.json': { weight_map: { ...index.weight_map, 'wte.weight': 'model-00002-of-00002.safetensors' } },
      'model-00002-of-00002.safetensors': shard2,
    });
    await expectRejects(openCheckpoint(nodeModelFiles(wrongShard)), SafetensorsError, 'missing', "'wte.weight'", 'model-00002-of-00002.safetensors');
  });

  it('refuses a malformed index', async () => {
    const notJson = await folder('index-not-json', {});
    await writeFile(join(notJson, 'model.safetensors.index.json'), '{"weight_map": ');
    await expectRejects(openCheckpoint(nodeModelFiles(notJson)), SafetensorsError, 'index', 'not JSON');
    const noMap = await folder('index-no-map', { 'model.safetensors.index.json': { metadata: {} } });
    await expectRejects(openCheckpoint(nodeModelFiles(noMap)), SafetensorsError, 'index', 'weight_map');
    const badShard = await folder('index-bad-shard', { 'model.safetensors.index.json': { weight_map: { a: 3 } } });
    await expectRejects(openCheckpoint(nodeModelFiles(badShard)), SafetensorsError, 'index', "'a'");
  });

  it('refuses an index that names a shard outside the folder', async () => {
    await folder('outside', { 'secret.safetensors': shard1 });
    const dir = await folder('escape', { 'model.safetensors.index.json': { weight_map: { 'wte.weight': '../outside/secret.safetensors' } } });
    await expectRejects(openCheckpoint(nodeModelFiles(dir)), ModelFilesError, 'bad-name', '../outside/secret.safetensors');
  });

  it('says so when the folder has no weights', async () => {
    const dir = await folder('empty', { 'config.json': {} });
    await expectRejects(openCheckpoint(nodeModelFiles(dir)), SafetensorsError, 'missing', 'model.safetensors', dir);
  });

  it('passes on a damaged file as a SafetensorsError naming it', async () => {
    const dir = await folder('cut', { 'model.safetensors': shard2.subarray(0, shard2.length - 4) });
    await expectRejects(openCheckpoint(nodeModelFiles(dir)), SafetensorsError, 'truncated', `${dir}/model.safetensors`);
  });
});

describe('nodeModelFiles', () => {
  it('reads text and bytes, and tells whether a file exists', async () => {
    const dir = await folder('files', { 'config.json': { n_embd: 3 }, 'model.safetensors': shard1 });
    await mkdir(join(dir, 'sub'));
    const files = nodeModelFiles(dir);
    expect(files.name).toBe(dir);
    expect(JSON.parse(await files.readText('config.json'))).toEqual({ n_embd: 3 });
    expect(await files.readBytes('model.safetensors')).toEqual(shard1);
    expect(await files.exists('config.json')).toBe(true);
    expect(await files.exists('tokenizer.json')).toBe(false);
    expect(await files.exists('sub')).toBe(false); // a folder is not a file
    await expectRejects(files.readBytes('tokenizer.json'), ModelFilesError, 'not-found', 'tokenizer.json', dir);
    await expectRejects(files.readText('tokenizer.json'), ModelFilesError, 'not-found');
  });

  it.each(['../config.json', 'a/../../b', '..', '/etc/passwd', 'C:\\x', 'a\\..\\b', '', 'a//b', './a', 'a\0b'])('refuses the name %j', async (name) => {
    const files = nodeModelFiles(join(root, 'files'));
    await expectRejects(files.readBytes(name), ModelFilesError, 'bad-name');
    await expectRejects(files.readText(name), ModelFilesError, 'bad-name');
    await expectRejects(files.exists(name), ModelFilesError, 'bad-name');
  });

  it('allows names in subfolders', async () => {
    const dir = await folder('nested', {});
    await mkdir(join(dir, 'onnx'));
    await writeFile(join(dir, 'onnx', 'w.bin'), new Uint8Array([1, 2, 3]));
    expect([...(await nodeModelFiles(dir).readBytes('onnx/w.bin'))]).toEqual([1, 2, 3]);
  });
});
