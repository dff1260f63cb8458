/**
 * The stage-2 baseline a reviewer asks for (issue 17): a **deterministic regressor on exactly the TSDM's inputs**.
 * It is the TSDM's own network (`TsdmModel`: the UNet with IP-Adapter tokens f_c = [E(TSD_proxy), Linear(P),
 * Linear(E)], the concatenated proxy-TSD window) called once with x_t = 0 at a fixed timestep T − 1, trained with
 * the TSDM's loss ‖x̂_0 − x_0‖² on the TSDM's target x_0 (the clipped residual, or the TSD), with the same optimiser,
 * batch size, seed and number of steps — no noise, no sampling. Training is early-stopped on the protocol's
 * validation block: every `evalEvery` steps the validation TSD MSE is measured and the weights of the best step kept.
 *
 * Bench code (not part of the published API); used by `eval-stage12.ts`.
 */
import { AdamW, Rng, tf, ValidationError } from '@consistent-avatar/core';
import { tsdErrors, TsdmModel, tsdmWindowInputs, type TsdmConfig, type TsdmData, type TsdmFrame } from '@consistent-avatar/tsd';

/** What {@link trainTsdRegressor} returns; the caller disposes `model`. */
export interface TsdRegressorResult {
  model: TsdmModel;
  /** The step whose weights were kept (lowest validation MSE; 0 = the initial weights). */
  bestStep: number;
  /** Validation TSD MSE by step. */
  validationLog: { step: number; mse: number }[];
  /** Mean training loss of each `evalEvery`-step window. */
  lossLog: { step: number; loss: number }[];
}

/**
 * Predict the TSD of frames `indices` of the consecutive sequence `frames` (temporal windows clamped at its ends).
 * @returns one `[size, size, 3]` map in [−1, 1] per index, normalised like the TSDM's output.
 */
export function regressTsd(model: TsdmModel, frames: readonly Pick<TsdmFrame, 'proxy' | 'pose' | 'expression'>[], indices: readonly number[] = frames.map((_, i) => i)): Float32Array[] {
  if (!(model instanceof TsdmModel)) throw new ValidationError('regressTsd', 'model', 'a TsdmModel', model);
  if (!Array.isArray(frames) || frames.length === 0) throw new ValidationError('regressTsd', 'frames', 'a non-empty array of frames', frames);
  const c = model.config, n = c.size * c.size * 3;
  const out: Float32Array[] = [];
  const wasTraining = model.training;
  model.eval();
  try {
    for (let start = 0; start < indices.length; start += 32) {
      const centers = indices.slice(start, start + 32);
      const B = centers.length;
      const win = tsdmWindowInputs(frames, centers, c);
      const x0 = tf.tidy(() => forward(model, win, B));
      const values = x0.dataSync();
      x0.dispose();
      for (let b = 0; b < B; b++) {
        out.push(Float32Array.from({ length: n }, (_, k) => {
          const v = values[b * n + k]!;
          return Math.max(-1, Math.min(1, c.target === 'residual' ? win.proxy[b * n + k]! + c.residualScale * v : v));
        }));
      }
    }
  } finally {
    model.train(wasTraining);
  }
  return out;
}

/** x̂_0 = net(x_t = 0, t = T − 1, f_c, proxy window): `[B, S, S, 3]`. */
function forward(model: TsdmModel, win: ReturnType<typeof tsdmWindowInputs>, B: number): tf.Tensor4D {
  const c = model.config, S = c.size, W = 2 * c.temporalWindow + 1;
  const tokens = model.condition(tf.tensor4d(win.proxy, [B, S, S, 3]), tf.tensor2d(win.pose, [B, W * c.poseDim]), tf.tensor2d(win.expression, [B, W * c.expressionDim])); // [B, 3, D]
  const zeros = tf.zeros([B, S, S, 3]) as tf.Tensor4D;
  return model.predictNoise(zeros, Array.from({ length: B }, () => c.numTrainTimesteps - 1), tokens, tf.tensor4d(win.proxyWindow, [B, S, S, 3 * W]));
}

/**
 * Train the regressor on `data.split.train`, early-stopped on `validation` (indices into `data.frames`, a contiguous
 * block aligned on its own, as the TSDM's validation is).
 */
export async function trainTsdRegressor(data: TsdmData, c: TsdmConfig, validation: readonly number[], options: { evalEvery?: number; onLog?: (s: string) => void } = {}): Promise<TsdRegressorResult> {
  const FN = 'trainTsdRegressor';
  if (!data || !Array.isArray(data.frames) || data.split.train.length === 0) throw new ValidationError(FN, 'data', 'TsdmData with training frames', data);
  if (!Array.isArray(validation) || validation.length < 2) throw new ValidationError(FN, 'validation', 'at least 2 frame indices', validation);
  const evalEvery = options.evalEvery ?? 50;
  const model = new TsdmModel(c);
  const optimizer = new AdamW(model, { lr: c.lr, weightDecay: c.weightDecay, maxGradNorm: c.maxGradNorm > 0 ? c.maxGradNorm : undefined });
  const rng = new Rng(c.seed).fork('tsd-regressor');
  const S = c.size, n = S * S * 3, B = c.batchSize;
  const valFrames = validation.map((i) => data.frames[i]!);
  const valTruth = valFrames.map((f) => f.gt!);
  const validate = () => tsdErrors(regressTsd(model, valFrames), valTruth).mse;
  const snapshot = () => model.namedParameters().map(([, v]) => v.dataSync().slice());
  let best = { step: 0, mse: validate(), weights: snapshot() };
  const validationLog = [{ step: 0, mse: best.mse }];
  const lossLog: { step: number; loss: number }[] = [];
  let window = 0;
  try {
    for (let step = 1; step <= c.iterations; step++) {
      // 1. A batch of training frames with their temporal windows (neighbours from the whole sequence, as trainTsdm).
      const centers = Array.from({ length: B }, () => data.split.train[rng.int(data.split.train.length)]!);
      const win = tsdmWindowInputs(data.frames, centers, c);
      const x0 = new Float32Array(B * n);
      centers.forEach((i, b) => {
        const f = data.frames[i]!;
        for (let k = 0; k < n; k++) x0[b * n + k] = c.target === 'residual' ? Math.max(-1, Math.min(1, (f.gt![k]! - f.proxy[k]!) / c.residualScale)) : f.gt![k]!;
      });
      // 2. One deterministic forward and the TSDM's x_0 loss.
      const target = tf.tensor4d(x0, [B, S, S, 3]);
      try {
        const { loss } = optimizer.step(() => tf.tidy(() => tf.mean(tf.square(tf.sub(forward(model, win, B), target))) as tf.Scalar));
        window += loss;
      } finally {
        target.dispose();
      }
      // 3. Early stopping on validation.
      if (step % evalEvery === 0 || step === c.iterations) {
        const mse = validate();
        validationLog.push({ step, mse });
        lossLog.push({ step, loss: window / (step % evalEvery || evalEvery) });
        window = 0;
        if (mse < best.mse) best = { step, mse, weights: snapshot() };
        options.onLog?.(`regressor step ${step}/${c.iterations}: validation MSE ${mse.toFixed(5)} (best ${best.mse.toFixed(5)} at ${best.step})`);
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    // 4. Back to the best step's weights.
    model.namedParameters().forEach(([, v], k) => tf.tidy(() => v.assign(tf.tensor(best.weights[k]!, v.shape, v.dtype))));
    return { model, bestStep: best.step, validationLog, lossLog };
  } catch (error) {
    model.dispose();
    throw error;
  } finally {
    optimizer.dispose();
  }
}
