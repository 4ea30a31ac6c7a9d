// A model folder as the loader sees it: a few named files (config.json, model.safetensors, ...). Node reads them
// from disk; the browser will fetch them. The loader only ever talks to this interface, so it runs unchanged in both.

export interface ModelFiles {
  /** The folder, for messages: a path in Node, a URL in the browser. */
  readonly name: string;
  exists(file: string): Promise<boolean>;
  readText(file: string): Promise<string>;
  readBytes(file: string): Promise<Uint8Array>;
}

export class ModelFilesError extends Error {
  override name = 'ModelFilesError';
  constructor(
    readonly code: 'bad-name' | 'not-found',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Refuse a file name that could reach outside the model folder. File names come from files we read
 * (a sharded index names its shards), so a hostile index must not be able to say "../../secret".
 * Allowed: relative paths of plain segments separated by '/'.
 */
export function checkFileName(file: string, folder: string): void {
  const segments = file.split('/');
  const bad =
    file === '' ||
    file.startsWith('/') ||
    /[\\:\0]/.test(file) || // Windows separators and drive letters ("C:x"), and NUL
    segments.some((s) => s === '' || s === '.' || s === '..');
  if (bad) {
    throw new ModelFilesError('bad-name', `refusing to read ${JSON.stringify(file)} from ${folder}: a model file name must be a plain relative path inside the folder`);
  }
}

/** Files larger than this are read in pieces (fs.readFile stops at 2 GiB). */
const READ_CHUNK = 1 << 28;

/** The model folder `dir` on disk (Node only; fs is loaded on first use so a browser bundle never includes it). */
export function nodeModelFiles(dir: string): ModelFiles {
  const node = () => {
    if (typeof process === 'undefined' || !process.getBuiltinModule) {
      throw new Error(`nodeModelFiles(${JSON.stringify(dir)}) needs Node >= 20.16; in a browser, use a fetch-based ModelFiles`);
    }
    return {
      fs: process.getBuiltinModule('fs/promises') as typeof import('fs/promises'),
      path: process.getBuiltinModule('path') as typeof import('path'),
    };
  };
  const resolve = (file: string): string => {
    checkFileName(file, dir);
    return node().path.join(dir, file);
  };
  const notFound = (file: string, e: unknown): unknown =>
    (e as NodeJS.ErrnoException).code === 'ENOENT'
      ? new ModelFilesError('not-found', `${dir} has no file ${file}: check the model folder (a Hugging Face model has config.json and *.safetensors)`)
      : e;

  return {
    name: dir,
    async exists(file) {
      const full = resolve(file);
      try {
        return (await node().fs.stat(full)).isFile();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw e;
      }
    },
    async readText(file) {
      const full = resolve(file);
      try {
        return await node().fs.readFile(full, 'utf8');
      } catch (e) {
        throw notFound(file, e);
      }
    },
    async readBytes(file) {
      const full = resolve(file);
      let handle;
      try {
        handle = await node().fs.open(full, 'r');
      } catch (e) {
        throw notFound(file, e);
      }
      try {
        const size = (await handle.stat()).size;
        const bytes = new Uint8Array(size);
        let at = 0;
        while (at < size) {
          const { bytesRead } = await handle.read(bytes, at, Math.min(READ_CHUNK, size - at), at);
          if (bytesRead === 0) break; // the file shrank while we read: return what is there, the parser will say it is cut
          at += bytesRead;
        }
        return at === size ? bytes : bytes.subarray(0, at);
      } finally {
        await handle.close();
      }
    },
  };
}
