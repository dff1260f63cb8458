/**
 * Face analysis with `@vladmandic/human` 3.3.6 — pretrained models that ship inside the npm package and run
 * offline on the tfjs wasm backend: face box, 478-point mesh, head rotation (pitch / yaw / roll), 7-class emotion
 * (angry, disgust, fear, happy, sad, surprise, neutral) and a 1024-d face embedding.
 *
 * Loading notes (checked on this project's machines):
 * - `dist/human.node-wasm.js` is required by resolved path (the package's `exports` map has no usable subpath).
 * - It requires `@tensorflow/tfjs-core` / `-backend-wasm` / `-converter`, which resolve to the same 4.22 copies as
 *   core's, so it shares our tfjs engine in one process (no worker needed); its model weights count in
 *   `tf.memory()` until {@link FaceAnalyzer.dispose}.
 * - Models load through `fetch('file://…')`, which Node's fetch does not support: a scoped shim serves `file://`
 *   URLs from disk during {@link FaceAnalyzer.create} only and is removed afterwards.
 * - `cacheSensitivity: 0` and zero skip frames, so every frame is analysed from scratch (no temporal caching).
 */
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { checkFinite, checkImage, guardCrashHandlers, isByteImage, tf, ValidationError, type Image } from '@consistent-avatar/core';

/**
 * The 7 emotion classes of human's emotion model (oarriaga / FER-2013 order).
 * @example
 * ```ts
 * FACE_EMOTIONS.indexOf('happy'); // 3
 * ```
 */
export const FACE_EMOTIONS = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'] as const;
/**
 * One of {@link FACE_EMOTIONS}.
 * @example
 * ```ts
 * const label: FaceEmotion = 'surprise';
 * ```
 */
export type FaceEmotion = (typeof FACE_EMOTIONS)[number];

/**
 * One analysed face. Coordinates are pixels of the analysed image.
 * @example
 * ```ts
 * const [face]: FaceAnalysis[] = await analyzer.analyze(image);
 * console.log(face?.rotation.yaw, face?.emotion.label);
 * ```
 */
export interface FaceAnalysis {
  /** `[x, y, width, height]`. */
  readonly box: readonly [number, number, number, number];
  /** Detection confidence in [0, 1]. */
  readonly score: number;
  /** Head rotation in degrees (human's rotation-matrix Euler angles, converted from radians). */
  readonly rotation: { readonly pitch: number; readonly yaw: number; readonly roll: number };
  /** `[478, 3]` mesh (x, y in pixels, z relative depth), row-major. */
  readonly mesh: Float32Array;
  /** Top emotion and the scores human reports (classes under its 0.1 threshold are absent). */
  readonly emotion: { readonly label: FaceEmotion | null; readonly scores: Partial<Record<FaceEmotion, number>> };
  /** Face embedding (1024-d for human's default `faceres` model); empty when the description model failed. */
  readonly embedding: Float32Array;
}

/**
 * Options of {@link FaceAnalyzer.create}.
 * @example
 * ```ts
 * const analyzer = await FaceAnalyzer.create({ maxFaces: 1, minConfidence: 0.3 } satisfies FaceAnalyzerOptions);
 * ```
 */
export interface FaceAnalyzerOptions {
  /** Maximum faces per image. Default 1. */
  readonly maxFaces?: number;
  /** Minimum detection confidence. Default 0.2 (human's default). */
  readonly minConfidence?: number;
}

interface HumanFace {
  box: [number, number, number, number];
  score: number;
  mesh: [number, number, number][];
  rotation?: { angle: { pitch: number; yaw: number; roll: number } } | null;
  emotion?: { score: number; emotion: string }[];
  embedding?: number[];
}
interface HumanInstance {
  load(): Promise<void>;
  detect(input: tf.Tensor, config?: Record<string, unknown>): Promise<{ face: HumanFace[]; error?: string | null }>;
}

const DEG = 180 / Math.PI;

/** Resolve human's package folder and the tfjs wasm binaries' folder, as installed. */
function humanPaths(): { dist: string; models: string; wasm: string } {
  const require = createRequire(import.meta.url);
  const dist = dirname(require.resolve('@vladmandic/human')); // …/dist (the "require" entry human.node.js)
  const requireFromHuman = createRequire(join(dist, 'human.node-wasm.js'));
  const wasm = dirname(requireFromHuman.resolve('@tensorflow/tfjs-backend-wasm')) + '/';
  return { dist, models: join(dist, '..', 'models'), wasm };
}

/** Run `fn` with `fetch` serving `file://` URLs from disk; the original `fetch` is restored afterwards. */
async function withFileFetch<T>(fn: () => Promise<T>): Promise<T> {
  const original = globalThis.fetch;
  globalThis.fetch = (async (input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!url.startsWith('file://')) return original(input, init);
    const path = fileURLToPath(url);
    const body = await readFile(path);
    const type = path.endsWith('.json') ? 'application/json' : 'application/octet-stream';
    return new Response(body, { status: 200, headers: { 'content-type': type } });
  }) as typeof fetch;
  try {
    return await fn();
  } finally {
    globalThis.fetch = original;
  }
}

let humanLoading: Promise<HumanInstance> | undefined;

/** Load human once per process (module-level state inside human makes a second instance share the models). */
function loadHuman(): Promise<HumanInstance> {
  humanLoading ??= (async () => {
    const paths = humanPaths();
    const require = createRequire(import.meta.url);
    let Human: new (config: Record<string, unknown>) => HumanInstance;
    const done = guardCrashHandlers(); // human bundles the tfjs wasm module and its crash handlers
    try {
      ({ Human } = require(join(paths.dist, 'human.node-wasm.js')) as { Human: typeof Human });
    } finally {
      done();
    }
    const noSkip = { skipFrames: 0, skipTime: 0 };
    const previousBackend = activeBackend();
    const human = new Human({
      backend: 'wasm',
      wasmPath: paths.wasm,
      modelBasePath: pathToFileURL(paths.models).href + '/',
      cacheSensitivity: 0,
      warmup: 'none',
      debug: false,
      face: {
        enabled: true,
        detector: { maxDetected: 1, rotation: true, ...noSkip },
        mesh: { enabled: true },
        iris: { enabled: true, ...noSkip },
        emotion: { enabled: true, ...noSkip },
        description: { enabled: true, ...noSkip },
        antispoof: { enabled: false },
        liveness: { enabled: false },
      },
      body: { enabled: false },
      hand: { enabled: false },
      object: { enabled: false },
      gesture: { enabled: false },
      segmentation: { enabled: false },
    });
    const loaded = guardCrashHandlers();
    try {
      await withFileFetch(() => human.load());
    } finally {
      loaded();
      await restoreBackend(previousBackend);
    }
    return human;
  })().catch((error: unknown) => {
    humanLoading = undefined;
    throw error;
  });
  return humanLoading;
}

/**
 * `@vladmandic/human` face analysis (see the file header). Create once, analyse many frames, dispose.
 *
 * @example
 * ```ts
 * const analyzer = await FaceAnalyzer.create();
 * const faces = await analyzer.analyze(image);           // [] when no face is found — never invented
 * if (faces[0]) console.log(faces[0].rotation, faces[0].emotion.label, faces[0].embedding.length);
 * analyzer.dispose();
 * ```
 */
export class FaceAnalyzer {
  private human: HumanInstance | undefined;
  private readonly callConfig: Record<string, unknown>;

  private constructor(human: HumanInstance, callConfig: Record<string, unknown>) {
    this.human = human;
    this.callConfig = callConfig;
  }

  /**
   * Load human's face models (~2 s, once per process) from the installed npm package; no network.
   *
   * @example
   * ```ts
   * const analyzer = await FaceAnalyzer.create({ maxFaces: 1 });
   * ```
   */
  static async create(options: FaceAnalyzerOptions = {}): Promise<FaceAnalyzer> {
    const fn = 'FaceAnalyzer.create';
    const maxFaces = options.maxFaces ?? 1;
    if (!Number.isInteger(maxFaces) || maxFaces < 1) throw new ValidationError(fn, 'options.maxFaces', 'an integer >= 1', maxFaces);
    const minConfidence = options.minConfidence ?? 0.2;
    if (!(minConfidence >= 0 && minConfidence <= 1)) {
      throw new ValidationError(fn, 'options.minConfidence', 'a number in [0, 1]', minConfidence);
    }
    return new FaceAnalyzer(await loadHuman(), { face: { detector: { maxDetected: maxFaces, minConfidence } } });
  }

  /**
   * Detect and analyse faces in one image (an RGB `Image`, float in [0, 1] or bytes, or a `[H, W, 3]` tensor in [0, 1]).
   *
   * @returns the faces found, most confident first; `[]` when none is found.
   * @example
   * ```ts
   * const [face] = await analyzer.analyze(frame);
   * ```
   */
  async analyze(image: Image | tf.Tensor3D): Promise<FaceAnalysis[]> {
    const fn = 'FaceAnalyzer.analyze';
    const human = this.human;
    if (!human) throw new ValidationError(fn, 'this', 'an undisposed FaceAnalyzer', 'disposed');
    let input: tf.Tensor4D;
    if (image instanceof tf.Tensor) {
      if (image.rank !== 3 || image.shape[2] !== 3) throw new ValidationError(fn, 'image', 'a [H, W, 3] tensor', image);
      checkFinite(fn, 'image', image); // core's non-finite policy, as checkImage applies it to an Image
      input = tf.tidy(() => tf.mul(tf.expandDims(tf.cast(image, 'float32'), 0), 255)) as tf.Tensor4D; // [1, H, W, 3]
    } else {
      checkImage(fn, 'image', image, { channels: [3] });
      const scale = isByteImage(image) ? 1 : 255; // human wants 0..255
      const data = Float32Array.from(image.data, (v) => v * scale);
      input = tf.tensor4d(data, [1, image.height, image.width, 3]); // [1, H, W, 3] in 0..255, as human expects
    }
    const previousBackend = activeBackend();
    try {
      const result = await human.detect(input, this.callConfig);
      if (result.error) throw new Error(`FaceAnalyzer.analyze: @vladmandic/human failed: ${result.error}`);
      return result.face
        .map((f) => toAnalysis(f))
        .sort((a, b) => b.score - a.score);
    } finally {
      input.dispose();
      await restoreBackend(previousBackend);
    }
  }

  /**
   * Detach this analyzer. human keeps its models in module-level state, so the weights (~600 tensors) stay loaded
   * for the process and are shared by every analyzer; they are not freed here.
   */
  dispose(): void {
    this.human = undefined;
  }
}

/** The active tfjs backend's name, or null before any backend exists (a fresh process). */
function activeBackend(): string | null {
  const engine = tf.engine() as unknown as { backendName?: string | null };
  return typeof engine.backendName === 'string' && engine.backendName.length > 0 ? engine.backendName : null;
}

/** Make `name` the active backend again; null (there was none before human loaded) keeps human's backend. */
async function restoreBackend(name: string | null): Promise<void> {
  if (name !== null && activeBackend() !== name) await tf.setBackend(name);
}

function toAnalysis(f: HumanFace): FaceAnalysis {
  const mesh = new Float32Array(f.mesh.length * 3);
  f.mesh.forEach((p, i) => mesh.set([p[0], p[1], p[2] ?? 0], 3 * i));
  const scores: Partial<Record<FaceEmotion, number>> = {};
  let label: FaceEmotion | null = null;
  let best = -1;
  for (const e of f.emotion ?? []) {
    if (!(FACE_EMOTIONS as readonly string[]).includes(e.emotion)) continue;
    scores[e.emotion as FaceEmotion] = e.score;
    if (e.score > best) {
      best = e.score;
      label = e.emotion as FaceEmotion;
    }
  }
  const angle = f.rotation?.angle ?? { pitch: NaN, yaw: NaN, roll: NaN };
  return {
    box: [f.box[0], f.box[1], f.box[2], f.box[3]],
    score: f.score,
    rotation: { pitch: angle.pitch * DEG, yaw: angle.yaw * DEG, roll: angle.roll * DEG },
    mesh,
    emotion: { label, scores },
    embedding: Float32Array.from(f.embedding ?? []),
  };
}
