/**
 * The stage-1 proxy avatar (the paper uses INSTA here): a FLAME-driven mesh with a **low-resolution** UV texture and
 * 9-coefficient SH lighting fitted to the training frames. It renders, for any tracked (E, P), a coarse RGB image
 * (smooth, detail lost — like INSTA's) aligned with the real frame, and the camera-space normal map that stage 3
 * takes as its geometry condition.
 *
 * Fitting (Eq.-free, plain photometric): for every training frame the mesh is posed with the tracked parameters
 * and rasterized once; the UVs, normals (→ SH basis) and target colours of its covered pixels are cached. Each step
 * draws a seeded random batch of pixels, samples the texture bilinearly through `tf.gather` (gradients reach the
 * texture via UnsortedSegmentSum), shades with the SH coefficients, and minimises the L1 photometric error plus a
 * small smoothness term on the texture, with Adam.
 *
 * @example
 * ```ts
 * import { synthesizeDataset, readInstaDataset, fitProxyAvatar, renderProxy, evaluateProxy } from '@consistent-avatar/proxy';
 * const { root } = await synthesizeDataset({ out: 'data/synth', frames: 300, size: 128 });
 * const ds = readInstaDataset(root);
 * const proxy = await fitProxyAvatar(ds, { steps: 300, textureSize: 64, onProgress: (p) => console.log(p.step, p.loss) });
 * const { rgb, normal } = renderProxy(proxy, { expression: ds.frames[0].expression, paperPose: ds.frames[0].pose });
 * console.log(evaluateProxy(proxy, ds).psnr);
 * proxy.dispose();
 * ```
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf, checkFinite, describeValue, ValidationError, CheckpointManager, writeJsonAtomic, readPng, Adam, Rng, type RngState } from '@consistent-avatar/core';
import type { FlameModel } from '../flame/model.js';
import type { PinholeCamera } from '../raster/camera.js';
import { rasterize, type RasterOutput } from '../raster/rasterize.js';
import { defaultShCoefficients, shBasis, type Texture } from '../raster/shading.js';
import { createSyntheticHead } from '../head/synthetic-head.js';
import type { AvatarDataset, AvatarFrame } from '../datasets/common.js';
import { readTrackedModel } from '../track/tracking-record.js';
import { readSyntheticTruth } from '../datasets/synthesize.js';
import { pngSize } from '../datasets/common.js';
import { readFrameMask } from '../datasets/masks.js';
import { bilinearPlan, sampleTexture } from './texture-sampler.js';

/** Options of {@link fitProxyAvatar} (flat; JSON round-trip except the callbacks and the model). */
export interface ProxyFitOptions {
  /** FLAME-layout model with UVs (e.g. `readFlameFolder(dir).model`). Default: the synthetic head of a synthetic dataset (`synthetic.json`). */
  model?: FlameModel;
  /** The proxy takes `model` over: disposed with the proxy, or when the fit fails. Default false (the caller keeps it). */
  ownModel?: boolean;
  /** Identity coefficients for `model`. Default: the synthetic truth's, else zeros. */
  shape?: ArrayLike<number>;
  /** Texture size in texels (square). Default 64: coarse on purpose (the proxy must lose detail). */
  textureSize?: number;
  /** Optimisation steps. Default 300. */
  steps?: number;
  /** Pixels per step. Default 8192. */
  batchPixels?: number;
  /** Adam learning rate for the texture (SH uses a tenth). Default 0.03. */
  lr?: number;
  /** Weight of the texture smoothness term. Default 0.02. */
  smoothness?: number;
  /** Fit the SH lighting too. Default true. */
  fitLighting?: boolean;
  /** Cached pixels per training frame (random subset). Default 4000. */
  pixelsPerFrame?: number;
  /** Use at most this many training frames (evenly spaced). Default all. */
  maxFrames?: number;
  seed?: number;
  /** Folder for checkpoints (`step-NNNNNN/`) and `loss.json`; resumes from the latest one. */
  checkpointDir?: string;
  /** Checkpoint period in steps. Default 100. */
  checkpointEvery?: number;
  /** Called every `logEvery` steps (default 10) and at the end. */
  onProgress?: (p: { step: number; steps: number; loss: number }) => void;
  logEvery?: number;
}

/** Per-frame parameters for {@link renderProxy}. */
export interface ProxyFrameParams {
  expression?: ArrayLike<number>;
  /** Paper pose (6) … */
  paperPose?: ArrayLike<number>;
  /** … or full pose (15). */
  pose?: ArrayLike<number>;
  /** Default: the camera of the first training frame. */
  camera?: PinholeCamera;
}

/**
 * A fitted proxy avatar (typed arrays + the model).
 * @example
 * ```ts
 * const proxy = await fitProxyAvatar(ds);
 * console.log(proxy.texture.width, proxy.lossLog.at(-1)); // 64, { step, loss }
 * proxy.dispose();
 * ```
 */
export class ProxyAvatar {
  readonly label = 'proxy' as const;
  constructor(
    readonly model: FlameModel,
    readonly shape: Float32Array,
    readonly texture: Texture,
    readonly sh: Float32Array,
    readonly camera: PinholeCamera,
    readonly lossLog: { step: number; loss: number }[],
    private readonly ownsModel: boolean,
  ) {}

  /** Release the model if the proxy created it. @example `proxy.dispose();` */
  dispose(): void {
    if (this.ownsModel) this.model.dispose();
  }
}

/**
 * Params of a dataset frame: expression as stored; the mesh is posed with `renderPose` (15, full pose) when the frame
 * has one (INSTA with the head rotation in the camera, IMAvatar's neck and eyes), else with `pose` (6 → paper pose,
 * 15 → full pose).
 * @example
 * ```ts
 * const { rgb } = renderProxy(proxy, frameParams(ds.frames[0]));
 * ```
 */
export function frameParams(frame: AvatarFrame): ProxyFrameParams {
  const p: ProxyFrameParams = { camera: frame.camera };
  if (frame.expression) p.expression = frame.expression;
  if (frame.renderPose?.length === 15) p.pose = frame.renderPose;
  else if (frame.pose?.length === 6) p.paperPose = frame.pose;
  else if (frame.pose?.length === 15) p.pose = frame.pose;
  return p;
}

/** Posed vertices `[V*3]` per frame (batched LBS). */
function posedVertices(model: FlameModel, shape: Float32Array, frames: ProxyFrameParams[]): Float32Array[] {
  const b = frames.length;
  const fn = 'renderProxy';
  const exp = new Float32Array(b * model.numExpression);
  const pose = new Float32Array(b * model.numJoints * 3);
  frames.forEach((f, i) => {
    if (f.expression) {
      if (f.expression.length > model.numExpression) throw new ValidationError(fn, 'expression', `at most ${model.numExpression} values`, f.expression);
      for (let k = 0; k < f.expression.length; k++) exp[i * model.numExpression + k] = Number(f.expression[k]);
    }
    if (f.pose) {
      if (f.pose.length !== model.numJoints * 3) throw new ValidationError(fn, 'pose', `${model.numJoints * 3} values`, f.pose);
      for (let k = 0; k < f.pose.length; k++) pose[i * model.numJoints * 3 + k] = Number(f.pose[k]);
    } else if (f.paperPose) {
      if (f.paperPose.length !== 6) throw new ValidationError(fn, 'paperPose', '6 values (global ⊕ jaw)', f.paperPose);
      for (let k = 0; k < 3; k++) {
        pose[i * model.numJoints * 3 + k] = Number(f.paperPose[k]);
        pose[i * model.numJoints * 3 + 6 + k] = Number(f.paperPose[3 + k]);
      }
    }
  });
  const v = tf.tidy(() => {
    const out = model.forward({
      shape: tf.tile(tf.tensor2d(shape, [1, model.numShape]), [b, 1]) as tf.Tensor2D,
      expression: tf.tensor2d(exp, [b, model.numExpression]),
      pose: tf.tensor2d(pose, [b, model.numJoints * 3]),
    });
    return out.vertices;
  });
  const data = v.dataSync() as Float32Array;
  v.dispose();
  const per = model.numVertices * 3;
  return Array.from({ length: b }, (_, i) => data.slice(i * per, (i + 1) * per));
}

function meshOf(model: FlameModel, positions: Float32Array) {
  if (!model.uvs) throw new ValidationError('fitProxyAvatar', 'options.model', 'a model with UVs (vt / ft)', model);
  return { positions, faces: model.faces, uvs: model.uvs.uv, uvFaces: model.uvs.uvFaces };
}

/**
 * Fit the proxy's texture and lighting to a dataset's training frames.
 *
 * @returns the fitted {@link ProxyAvatar} (its `lossLog` holds the loss every `logEvery` steps).
 * @example
 * ```ts
 * const proxy = await fitProxyAvatar(ds, { steps: 300, checkpointDir: 'runs/proxy' });
 * ```
 */
export async function fitProxyAvatar(dataset: AvatarDataset, options: ProxyFitOptions = {}): Promise<ProxyAvatar> {
  const fn = 'fitProxyAvatar';
  if (!dataset || !Array.isArray(dataset.frames) || !dataset.split) throw new ValidationError(fn, 'dataset', 'an AvatarDataset (from a read*Dataset function)', dataset);
  const size = options.textureSize ?? 64;
  const steps = options.steps ?? 300;
  const batch = options.batchPixels ?? 8192;
  const lr = options.lr ?? 0.03;
  const smoothness = options.smoothness ?? 0.02;
  const seed = options.seed ?? 0;
  const logEvery = options.logEvery ?? 10;
  if (!Number.isInteger(size) || size < 4 || size > 2048) throw new ValidationError(fn, 'options.textureSize', 'an integer in [4, 2048]', size);
  if (!Number.isInteger(steps) || steps < 0) throw new ValidationError(fn, 'options.steps', 'a non-negative integer', steps);
  if (!Number.isInteger(batch) || batch < 1) throw new ValidationError(fn, 'options.batchPixels', 'a positive integer', batch);
  if (!(lr > 0 && lr < Infinity)) throw new ValidationError(fn, 'options.lr', 'a finite number > 0', lr);
  if (dataset.split.train.length === 0) throw new ValidationError(fn, 'dataset.split.train', 'at least one training frame', dataset.split.train);

  // 1. The model: given, or the synthetic head of a synthetic dataset. Every later check may throw, so an owned model
  // is released on any failure until the proxy takes it over.
  let model = options.model;
  let ownsModel = options.model !== undefined && options.ownModel === true;
  let shape = options.shape ? Float32Array.from(options.shape, Number) : null;
  if (shape) checkFinite(fn, 'options.shape', shape);
  if (!model) {
    const truthFile = path.join(dataset.root, 'synthetic.json');
    // A folder `ca track` fitted to the synthetic head: that head (identity 0's template) with the fitted shape.
    const tracked = fs.existsSync(truthFile) ? null : readTrackedModel(dataset.root);
    if (!fs.existsSync(truthFile) && tracked?.kind !== 'synthetic') {
      throw new ValidationError(fn, 'options.model', 'a FLAME model (the dataset is neither synthetic nor tracked with the synthetic head)', undefined);
    }
    const truth = tracked ? null : readSyntheticTruth(dataset.root);
    const head = createSyntheticHead({ identity: truth?.identity ?? 0, textureSize: 64 });
    model = head.model;
    ownsModel = true;
    if (tracked?.kind === 'synthetic') {
      shape ??= new Float32Array(model.numShape);
      shape.set(tracked.shape.subarray(0, Math.min(shape.length, tracked.shape.length)));
    }
    shape ??= Float32Array.from(truth!.shape);
  }
  let uvs: number[], basis: number[], target: number[];
  const rng = new Rng(seed).fork('proxy');
  const meanColor = [0, 0, 0];
  const trainIdx: number[] = [];
  try {
    shape ??= new Float32Array(model.numShape);
    if (shape.length !== model.numShape) throw new ValidationError(fn, 'options.shape', `${model.numShape} values`, shape);
    ({ uvs, basis, target } = cachePixels());
  } catch (error) {
    if (ownsModel) model.dispose();
    throw error;
  }

  // 2. Cache the covered pixels of each training frame: bilinear plan, SH basis, target colour.
  function cachePixels(): { uvs: number[]; basis: number[]; target: number[] } {
    const uvs: number[] = [], basis: number[] = [], target: number[] = [];
    const maxFrames = options.maxFrames ?? dataset.split.train.length;
    const all = dataset.split.train;
    trainIdx.push(...(all.length <= maxFrames ? all : Array.from({ length: maxFrames }, (_, k) => all[Math.floor((k * all.length) / maxFrames)]!))); // evenly spaced
    const perFrame = options.pixelsPerFrame ?? 4000;
    for (let start = 0; start < trainIdx.length; start += 16) {
      const frames = trainIdx.slice(start, start + 16).map((i) => dataset.frames[i]!);
      // Sizes first: the camera sizes every render buffer, so it must match the image before anything is rasterized.
      for (const frame of frames) {
        const image = pngSize(frame.imagePath, 'png');
        if (image.width !== frame.camera.width || image.height !== frame.camera.height) {
          throw new ValidationError(fn, 'dataset', `images of the cameras' size (${frame.camera.width}×${frame.camera.height})`, `${image.width}×${image.height} in ${frame.imagePath}`);
        }
      }
      const verts = posedVertices(model!, shape!, frames.map(frameParams));
      frames.forEach((frame, j) => {
        const r = rasterize(meshOf(model!, verts[j]!), frame.camera);
        const img = readPng(frame.imagePath, { channels: 3 });
        const mask = readFrameMask(frame);
        if (mask && mask.length !== r.mask.length) throw new ValidationError(fn, 'dataset', `masks of the images' size (${img.width}×${img.height})`, frame.maskPath ?? frame.imagePath);
        const covered: number[] = [];
        for (let p = 0; p < r.mask.length; p++) if (r.mask[p] === 1 && (!mask || mask[p]! > 0.99)) covered.push(p);
        const take = covered.length <= perFrame ? covered : Array.from(rng.permutation(covered.length).subarray(0, perFrame), (k) => covered[k]!);
        for (const p of take) {
          uvs.push(r.uv[p * 2]!, r.uv[p * 2 + 1]!);
          const b = shBasis(r.normal[p * 3]! * 2 - 1, r.normal[p * 3 + 1]! * 2 - 1, r.normal[p * 3 + 2]! * 2 - 1);
          basis.push(...b);
          for (let c = 0; c < 3; c++) {
            target.push(img.data[p * 3 + c]!);
            meanColor[c] = meanColor[c]! + img.data[p * 3 + c]!;
          }
        }
      });
    }
    if (target.length === 0) throw new ValidationError(fn, 'dataset', 'frames where the posed model covers some pixels (check cameras and parameters)', 0);
    return { uvs, basis, target };
  }
  const numPixels = target.length / 3;
  const plan = bilinearPlan(new Float32Array(uvs), size, size);
  const basisArr = new Float32Array(basis), targetArr = new Float32Array(target);

  // 3. Parameters: texture [S*S, 3] initialised to the mean target colour (divided by the initial shading), SH [9, 3].
  const sh0 = defaultShCoefficients();
  const shade0 = sh0[0]! * shBasis(0, 0, 1)[0]! + sh0[9]! * shBasis(0, 0, 1)[3]!; // frontal shading level
  const init = meanColor.map((m) => m / numPixels / shade0);
  const texture0 = tf.tidy(() => tf.tile(tf.tensor2d([init], [1, 3]), [size * size, 1]));
  const shInit = tf.tensor2d(sh0, [9, 3]);
  const texture = tf.variable(texture0, true, `proxy_texture_${seed}_${Date.now()}`) as tf.Variable<tf.Rank.R2>;
  const sh = tf.variable(shInit, options.fitLighting ?? true, `proxy_sh_${seed}_${Date.now()}`) as tf.Variable<tf.Rank.R2>;
  tf.dispose([texture0, shInit]);
  const params: Array<[string, tf.Variable]> = [['texture', texture]];
  if (options.fitLighting ?? true) params.push(['sh', sh]);
  const optimizer = new Adam(params, { lr });
  const lossLog: { step: number; loss: number }[] = [];
  let startStep = 0;
  let batchRng = new Rng(seed).fork('proxy-batches');
  let manager: CheckpointManager | null = null;
  try {
    // Resume (the manager takes the folder's lock: a second writer fails here, naming the holder).
    manager = options.checkpointDir ? new CheckpointManager(options.checkpointDir, { keepLast: 2 }) : null;
    const config = { textureSize: size, steps, batchPixels: batch, lr, smoothness, seed, dataset: dataset.root, trainFrames: trainIdx.length };
    const last = manager?.loadLatest();
    if (last) {
      try {
        // All-or-nothing: every field is checked before the first assignment.
        const saved = last.config as Partial<typeof config>;
        for (const key of ['textureSize', 'batchPixels', 'seed', 'dataset', 'trainFrames'] as const) {
          if (saved?.[key] !== config[key]) {
            throw new ValidationError(fn, 'options.checkpointDir', `checkpoints of the same run (${key} = ${JSON.stringify(config[key])}); use a fresh folder`, `${key} = ${describeValue(saved?.[key])}`);
          }
        }
        const state = last.state ?? {};
        const where = `${last.dir}/state.json`;
        if (!Number.isSafeInteger(state.step) || (state.step as number) < 0 || (state.step as number) > steps) {
          throw new ValidationError(fn, `${where}: step`, `an integer in [0, ${steps}]`, state.step);
        }
        const log = state.lossLog;
        if (!Array.isArray(log) || !log.every((e: { step?: unknown; loss?: unknown } | null) => e !== null && typeof e === 'object' && Number.isSafeInteger(e.step) && typeof e.loss === 'number' && Number.isFinite(e.loss))) {
          throw new ValidationError(fn, `${where}: lossLog`, 'an array of { step, loss } with finite losses', log);
        }
        const restoredRng = Rng.fromState(state.rng as RngState);
        for (const name of ['texture', 'sh'] as const) {
          const t = last.tensors[name];
          const target = name === 'texture' ? texture : sh;
          if (!t || t.shape.join() !== target.shape.join()) throw new ValidationError(fn, `${last.dir}: ${name}`, `a tensor of shape [${target.shape.join(', ')}]`, t);
          checkFinite(fn, `${last.dir}: ${name}`, t);
        }
        if (last.optimizerTensors) optimizer.checkState(last.optimizerTensors, state.optimizer as { step: number });
        texture.assign(last.tensors.texture as tf.Tensor2D);
        sh.assign(last.tensors.sh as tf.Tensor2D);
        if (last.optimizerTensors) optimizer.loadState(last.optimizerTensors, state.optimizer as { step: number });
        startStep = state.step as number;
        lossLog.push(...(log as { step: number; loss: number }[]).map((e) => ({ step: e.step, loss: e.loss })));
        batchRng = restoredRng;
      } finally {
        tf.dispose([...Object.values(last.tensors), ...Object.values(last.optimizerTensors ?? {})]);
      }
    }
    // Smoothness: the texture minus its 4-neighbour mean (Laplacian), on the [S, S, 3] grid.
    const laplacian = (t: tf.Tensor2D) => {
      const img = t.reshape([1, size, size, 3]); // [1, S, S, 3]
      const blur = tf.avgPool(tf.pad(img, [[0, 0], [1, 1], [1, 1], [0, 0]], 0) as tf.Tensor4D, 3, 1, 'valid'); // [1, S, S, 3]
      return tf.mean(tf.square(tf.sub(img, blur)));
    };
    const bIdx = new Int32Array(batch * 4), bW = new Float32Array(batch * 4), bBasis = new Float32Array(batch * 9), bTarget = new Float32Array(batch * 3);
    for (let step = startStep; step < steps; step++) {
      // 3a. A seeded random batch of cached pixels.
      for (let i = 0; i < batch; i++) {
        const p = batchRng.int(numPixels);
        bIdx.set(plan.indices.subarray(p * 4, p * 4 + 4), i * 4);
        bW.set(plan.weights.subarray(p * 4, p * 4 + 4), i * 4);
        bBasis.set(basisArr.subarray(p * 9, p * 9 + 9), i * 9);
        bTarget.set(targetArr.subarray(p * 3, p * 3 + 3), i * 3);
      }
      const subPlan = { count: batch, indices: bIdx, weights: bW };
      const basisT = tf.tensor2d(bBasis, [batch, 9]);
      const targetT = tf.tensor2d(bTarget, [batch, 3]);
      // 3b. Photometric L1 of albedo(uv) · SH(n), plus the smoothness prior.
      const result = optimizer.step(() => {
        const albedo = sampleTexture(texture, subPlan); // [B, 3]
        const shading = tf.matMul(basisT, sh); // [B, 3]
        const photometric = tf.mean(tf.abs(tf.sub(tf.mul(albedo, shading), targetT)));
        return tf.add(photometric, tf.mul(smoothness, laplacian(texture))) as tf.Scalar;
      });
      tf.dispose([basisT, targetT]);
      const done = step + 1;
      if (done % logEvery === 0 || done === steps) {
        lossLog.push({ step: done, loss: result.loss });
        options.onProgress?.({ step: done, steps, loss: result.loss });
      }
      if (manager && (done % (options.checkpointEvery ?? 100) === 0 || done === steps)) {
        // The log before the checkpoint: a kill between the two leaves a log ahead of the last checkpoint, which the
        // resumed run rewrites at its next save (the other order could leave it behind for good after the last one).
        writeJsonAtomic(path.join(options.checkpointDir!, 'loss.json'), lossLog);
        manager.save(done, {
          config,
          tensors: { texture, sh },
          optimizerTensors: optimizer.stateTensors(),
          state: { step: done, optimizer: optimizer.stateJson(), lossLog, rng: batchRng.getState() },
        });
      }
      if (done % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const texData = new Float32Array(texture.dataSync());
    for (let i = 0; i < texData.length; i++) texData[i] = Math.min(1, Math.max(0, texData[i]!));
    const proxy = new ProxyAvatar(
      model, shape, { width: size, height: size, channels: 3, data: texData }, new Float32Array(sh.dataSync()),
      dataset.frames[dataset.split.train[0]!]!.camera, lossLog, ownsModel,
    );
    ownsModel = false;
    return proxy;
  } finally {
    optimizer.dispose();
    tf.dispose([texture, sh]);
    if (ownsModel) model.dispose();
    manager?.close(); // release the checkpoint folder's lock
  }
}

/**
 * Render the proxy for any frame's parameters: coarse RGB (learned texture × learned SH) and the normal map.
 *
 * @returns the rasterizer output (rgb / normal in [0, 1], mask, depth, uv, …).
 * @example
 * ```ts
 * const { rgb, normal } = renderProxy(proxy, { expression, paperPose, camera });
 * ```
 */
export function renderProxy(proxy: ProxyAvatar, params: ProxyFrameParams = {}, options: { supersample?: number; background?: [number, number, number] } = {}): RasterOutput {
  if (!(proxy instanceof ProxyAvatar)) throw new ValidationError('renderProxy', 'proxy', 'a ProxyAvatar from fitProxyAvatar', proxy);
  if (params === null || typeof params !== 'object') throw new ValidationError('renderProxy', 'params', '{ expression?, paperPose? | pose?, camera? }', params);
  // The non-finite policy, named here before any tensor exists (FLAME would name itself and its tensor).
  for (const key of ['expression', 'paperPose', 'pose'] as const) if (params[key] !== undefined) checkFinite('renderProxy', `params.${key}`, params[key]);
  const positions = posedVertices(proxy.model, proxy.shape, [params])[0]!;
  return rasterize(meshOf(proxy.model, positions), params.camera ?? proxy.camera, {
    texture: proxy.texture, shading: 'sh', sh: proxy.sh, supersample: options.supersample ?? 1, background: options.background ?? [0, 0, 0],
  });
}

/**
 * PSNR (dB, peak 1, whole image) of the proxy against a dataset's frames (default: the test split).
 *
 * @example
 * ```ts
 * const { psnr } = evaluateProxy(proxy, ds); // held-out frames
 * ```
 */
export function evaluateProxy(proxy: ProxyAvatar, dataset: AvatarDataset, frameIndices: number[] = dataset.split.test, options: { supersample?: number } = {}): { psnr: number; perFrame: number[] } {
  if (frameIndices.length === 0) throw new ValidationError('evaluateProxy', 'frameIndices', 'at least one frame', frameIndices);
  const perFrame = frameIndices.map((i) => {
    const frame = dataset.frames[i];
    if (!frame) throw new ValidationError('evaluateProxy', 'frameIndices', `indices < ${dataset.frames.length}`, i);
    const r = renderProxy(proxy, frameParams(frame), { supersample: options.supersample ?? 2 });
    const img = readPng(frame.imagePath, { channels: 3 });
    let se = 0;
    for (let k = 0; k < r.rgb.length; k++) se += (r.rgb[k]! - img.data[k]!) ** 2;
    return 10 * Math.log10(1 / Math.max(1e-12, se / r.rgb.length));
  });
  return { psnr: perFrame.reduce((a, b) => a + b, 0) / perFrame.length, perFrame };
}
