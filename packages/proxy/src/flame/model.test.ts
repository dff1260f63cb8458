import { describe, it, expect, beforeAll } from 'vitest';
import { fileURLToPath } from 'node:url';
import { tf, useBackend, readNpz } from '@consistent-avatar/core';
import { FlameModel, type NdArrayLike } from './model.js';
import { batchRodrigues } from './rodrigues.js';
import { paperPoseToFull, fullPoseToPaper } from './pose.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../test/fixtures/flame/${name}`, import.meta.url));

const loadNpz = (path: string) => readNpz(path) as Record<string, NdArrayLike>;

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - Number(b[i])));
  return m;
};

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`FLAME LBS (${backend})`, () => {
    let model: FlameModel;
    let cases: Record<string, NdArrayLike>;
    beforeAll(async () => {
      await useBackend(backend);
      model = FlameModel.fromNpz(fixture('toy_flame_model.npz'));
      cases = loadNpz(fixture('toy_flame_lbs_cases.npz'));
    });

    it('matches the smplx reference vertices and joints for every case within 1e-5', () => {
      expect(model.numShape).toBe(300);
      expect(model.numExpression).toBe(100);
      const n = cases.shape!.shape[0]!;
      const f32 = (a: NdArrayLike) => Float32Array.from(a.data as ArrayLike<number>, Number);
      const out = model.forward({
        shape: tf.tensor2d(f32(cases.shape!), [n, 300]),
        expression: tf.tensor2d(f32(cases.expression!), [n, 100]),
        pose: tf.tensor2d(f32(cases.pose!), [n, 15]),
      });
      const verts = out.vertices.dataSync();
      const joints = out.joints.dataSync();
      const refV = cases.vertices!.data as Float64Array;
      const refJ = cases.joints!.data as Float64Array;
      // Per case, tolerance 1e-5 · max(1, range) (float32 vs the float64 reference).
      const perV = model.numVertices * 3;
      for (let c = 0; c < n; c++) {
        const rv = refV.subarray(c * perV, (c + 1) * perV);
        const rj = refJ.subarray(c * 15, (c + 1) * 15);
        const range = Math.max(1, Math.max(...rv) - Math.min(...rv));
        expect(maxAbsDiff(verts.subarray(c * perV, (c + 1) * perV), rv)).toBeLessThan(1e-5 * range);
        expect(maxAbsDiff(joints.subarray(c * 15, (c + 1) * 15), rj)).toBeLessThan(1e-5 * range);
      }
      tf.dispose([out.vertices, out.joints]);
    });

    it('zero pose and zero coefficients give the template', () => {
      const out = model.forward({ shape: tf.zeros([2, 300]) as tf.Tensor2D });
      const tpl = model.tensors.vTemplate.dataSync();
      const v = out.vertices.dataSync();
      expect(out.vertices.shape).toEqual([2, model.numVertices, 3]);
      expect(maxAbsDiff(v.subarray(0, tpl.length), tpl)).toBeLessThan(1e-6);
      expect(maxAbsDiff(v.subarray(tpl.length), tpl)).toBeLessThan(1e-6);
      tf.dispose([out.vertices, out.joints]);
    });

    it('a pure global rotation rotates all vertices rigidly about the root joint', () => {
      const rng = [0.3, -0.5, 0.7];
      const shape = tf.tensor2d([Array.from({ length: 300 }, (_, i) => Math.sin(i) * 0.5)]);
      const expression = tf.tensor2d([Array.from({ length: 100 }, (_, i) => Math.cos(i) * 0.5)]);
      const rest = model.forward({ shape, expression });
      const rot = model.forward({ shape, expression, pose: tf.tensor2d([[...rng, ...new Array(12).fill(0)]]) });
      const R = batchRodrigues(tf.tensor2d([rng])).dataSync();
      const j0 = rest.joints.dataSync().slice(0, 3);
      const a = rest.vertices.dataSync();
      const b = rot.vertices.dataSync();
      let err = 0;
      for (let v = 0; v < model.numVertices; v++) {
        const d = [a[v * 3]! - j0[0]!, a[v * 3 + 1]! - j0[1]!, a[v * 3 + 2]! - j0[2]!];
        for (let r = 0; r < 3; r++) {
          const expected = R[r * 3]! * d[0]! + R[r * 3 + 1]! * d[1]! + R[r * 3 + 2]! * d[2]! + j0[r]!;
          err = Math.max(err, Math.abs(expected - b[v * 3 + r]!));
        }
      }
      expect(err).toBeLessThan(1e-5);
      tf.dispose([shape, expression, rest.vertices, rest.joints, rot.vertices, rot.joints]);
    });

    it('is differentiable with respect to expression and pose, and does not leak tensors', () => {
      const exp = tf.variable(tf.fill([1, 100], 0.1), true, `exp_${backend}`) as tf.Variable<tf.Rank.R2>;
      const pose = tf.variable(tf.fill([1, 15], 0.05), true, `pose_${backend}`) as tf.Variable<tf.Rank.R2>;
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        const { value, grads } = tf.variableGrads(
          () => tf.tidy(() => model.forward({ expression: exp, pose }).vertices.square().sum() as tf.Scalar),
          [exp, pose],
        );
        expect(tf.tidy(() => grads[exp.name]!.abs().sum().arraySync() as number)).toBeGreaterThan(0);
        expect(tf.tidy(() => grads[pose.name]!.abs().sum().arraySync() as number)).toBeGreaterThan(0);
        tf.dispose([value, ...Object.values(grads)]);
      }
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([exp, pose]);
    });

    it('keeps any number of components (DECA: 100 shape, 50 expression) like shapedirs[:n] ⊕ shapedirs[300:300+m]', () => {
      const deca = FlameModel.fromArrays(loadNpz(fixture('toy_flame_model.npz')), { shapeComponents: 100, expressionComponents: 50 });
      expect([deca.numShape, deca.numExpression]).toEqual([100, 50]);
      const shape = tf.tensor2d([Array.from({ length: 100 }, (_, i) => Math.sin(i))]);
      const expression = tf.tensor2d([Array.from({ length: 50 }, (_, i) => Math.cos(i))]);
      const pose = tf.tensor2d([[0.1, 0.2, 0, 0, 0.1, 0, 0.3, 0, 0, 0, 0, 0, 0, 0, 0]]);
      const a = deca.forward({ shape, expression, pose }).vertices.dataSync();
      // The full model with the remaining coefficients at zero gives the same vertices.
      const b = model.forward({ shape, expression, pose }).vertices.dataSync();
      expect(maxAbsDiff(a, b)).toBeLessThan(1e-6);
      deca.dispose();
      tf.dispose([shape, expression, pose]);
    });

    it('paper pose converts to and from the full pose', () => {
      const p6 = tf.tensor2d([[1, 2, 3, 4, 5, 6]]);
      const full = paperPoseToFull(p6);
      expect(Array.from(full.dataSync())).toEqual([1, 2, 3, 0, 0, 0, 4, 5, 6, 0, 0, 0, 0, 0, 0]);
      expect(Array.from(fullPoseToPaper(full).dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
      expect(() => paperPoseToFull(tf.zeros([1, 5]) as tf.Tensor2D)).toThrow(/paperPoseToFull: argument 'paperPose'/);
    });

    it('rejects malformed arrays and bad parameters with clear errors', () => {
      const arrays = loadNpz(fixture('toy_flame_model.npz'));
      const { posedirs: _drop, ...missing } = arrays;
      expect(() => FlameModel.fromArrays(missing, {}, 'x.npz')).toThrow(/flame file x.npz: missing key 'posedirs'/);
      expect(() => model.forward({ expression: tf.zeros([1, 101]) as tf.Tensor2D })).toThrow(/params.expression/);
      expect(() => model.forward({ pose: tf.zeros([1, 15]) as tf.Tensor2D, paperPose: tf.zeros([1, 6]) as tf.Tensor2D })).toThrow(/either pose/);
    });
  });
}

describe('FLAME static landmarks', () => {
  it('interpolates the posed vertices with the embedding barycentrics', async () => {
    await useBackend('cpu');
    const arrays = loadNpz(fixture('toy_flame_model.npz'));
    // Landmark 0 = vertex 0 of face 3; landmark 1 = midpoint of face 7's first two corners.
    arrays.lmk_faces_idx = { data: new Int32Array([3, 7]), shape: [2] };
    arrays.lmk_bary_coords = { data: new Float64Array([1, 0, 0, 0.5, 0.5, 0]), shape: [2, 3] };
    const m = FlameModel.fromArrays(arrays);
    const out = m.forward({ pose: tf.tensor2d([[0.2, 0.1, 0, 0, 0.3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]) });
    const v = out.vertices.arraySync()[0]!;
    const l = out.landmarks!.arraySync()[0]!;
    const f = m.faces;
    for (let c = 0; c < 3; c++) {
      expect(l[0]![c]).toBeCloseTo(v[f[9]!]![c]!, 6);
      expect(l[1]![c]).toBeCloseTo(0.5 * (v[f[21]!]![c]! + v[f[22]!]![c]!), 6);
    }
    m.dispose();
  });
});
