/**
 * Write an ONNX model to disk, with its weights inline or — as ONNX specifies for models whose tensors exceed
 * protobuf's 2 GiB message limit (SD 1.5's UNet holds 3.4 GB of float32) — in a side file: every float32
 * initializer of at least `sizeThreshold` bytes goes to `<model file>.data` (64-byte aligned) and the model keeps an
 * `external_data` entry `{ location, offset, length }` for it, resolved by ONNX Runtime relative to the model's
 * folder. Both files are written atomically (the data file first, then the model that refers to it).
 *
 * @example
 * ```ts
 * const { modelPath, dataPath } = writeOnnxModel('out/unet.onnx', graph.spec(), { externalData: true });
 * const session = loadOrtBinding().createSessionFromFile(modelPath, { intraOpThreads: 2 });
 * ```
 *
 * @packageDocumentation
 */
import * as path from 'node:path';
import { ValidationError } from '../errors.js';
import { writeAllSync, writeFileAtomic } from '../io/atomic.js';
import { encodeOnnxModel, type OnnxFloatInitializer, type OnnxModelSpec } from './onnx-proto.js';

/** Options of {@link writeOnnxModel}. */
export interface WriteOnnxModelOptions {
  /** Put weights in `<file>.data` (default: when the weights exceed 1 GiB). */
  externalData?: boolean;
  /** Initializers smaller than this many bytes stay inline (default 1024, as the `onnx` package does). */
  sizeThreshold?: number;
}

/** What {@link writeOnnxModel} wrote. */
export interface WrittenOnnxModel {
  modelPath: string;
  /** The side file, or null when every weight is inline. */
  dataPath: string | null;
  /** Bytes of the model file and of the side file. */
  modelBytes: number;
  dataBytes: number;
  /** Where each external tensor lies in the side file (float32, little-endian, row-major); empty when inline. */
  tensors: Array<{ name: string; dims: number[]; offset: number; length: number }>;
}

const ALIGN = 64;
const EXTERNAL_BY_DEFAULT = 2 ** 30;

/**
 * Write `spec` to `file` (and its weights to `file + '.data'` with `externalData`).
 * @param file - the `.onnx` path; its folder is created.
 * @throws {@link ValidationError} for a bad path or options (and what {@link encodeOnnxModel} throws);
 *   `IoError` when the disk refuses.
 * @example
 * ```ts
 * writeOnnxModel('model.onnx', spec).modelBytes; // inline weights: one file
 * ```
 */
export function writeOnnxModel(file: string, spec: OnnxModelSpec, options: WriteOnnxModelOptions = {}): WrittenOnnxModel {
  const FN = 'writeOnnxModel';
  if (typeof file !== 'string' || file === '') throw new ValidationError(FN, 'file', 'a non-empty path', file);
  if (typeof spec !== 'object' || spec === null || !Array.isArray(spec.nodes)) throw new ValidationError(FN, 'spec', 'an ONNX model spec', spec);
  const threshold = options.sizeThreshold ?? 1024;
  if (!Number.isInteger(threshold) || threshold < 0) throw new ValidationError(FN, 'options.sizeThreshold', 'an integer ≥ 0', options.sizeThreshold);
  const initializers = spec.initializers ?? [];
  const total = initializers.reduce((s, t) => s + 4 * (t.data?.length ?? 0), 0);
  const external = options.externalData ?? total > EXTERNAL_BY_DEFAULT;
  if (!external) {
    const bytes = encodeOnnxModel(spec);
    writeFileAtomic(file, bytes);
    return { modelPath: file, dataPath: null, modelBytes: bytes.length, dataBytes: 0, tensors: [] };
  }
  const dataPath = `${file}.data`;
  const location = path.basename(dataPath);
  // 1. Lay out the large initializers in the side file.
  let offset = 0;
  const placed: Array<{ init: OnnxFloatInitializer; offset: number }> = [];
  const rewritten = initializers.map((init): OnnxFloatInitializer => {
    const bytes = 4 * (init.data?.length ?? 0);
    if (!init.data || bytes < threshold) return init;
    offset = Math.ceil(offset / ALIGN) * ALIGN;
    placed.push({ init, offset });
    const entry = { name: init.name, dims: init.dims, external: { location, offset, length: bytes } };
    offset += bytes;
    return entry;
  });
  // 2. Encode first (validates the spec before anything is written), then the data file, then the model.
  const model = encodeOnnxModel({ ...spec, initializers: rewritten });
  writeFileAtomic(dataPath, (fd, fs) => {
    let at = 0;
    for (const { init, offset: start } of placed) {
      if (start > at) writeAllSync(fd, new Uint8Array(start - at)); // alignment padding
      const data = init.data!;
      writeAllSync(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      at = start + data.byteLength;
    }
    void fs;
  });
  writeFileAtomic(file, model);
  const tensors = placed.map(({ init, offset: start }) => ({ name: init.name, dims: [...init.dims], offset: start, length: 4 * init.data!.length }));
  return { modelPath: file, dataPath, modelBytes: model.length, dataBytes: offset, tensors };
}
