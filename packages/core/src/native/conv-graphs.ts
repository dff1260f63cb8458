/**
 * ONNX graphs for tfjs's three 2-D convolution kernels, NHWC in and out, with the weights as graph inputs (they
 * change every training step). tfjs filters are HWIO `[kh, kw, Cin, Cout]`; ONNX `Conv` / `ConvTranspose` take NCHW
 * data and `[Cout, Cin, kh, kw]` / `[Cin_T, Cout_T, kh, kw]` weights, so each graph starts and ends with the
 * `Transpose` nodes that convert layouts inside ONNX Runtime (MLAS) — no copy in JavaScript. ONNX Runtime's layout
 * optimiser fuses those transposes into its own NCHWc reorders where it can.
 *
 * Each builder returns `null` for what it does not express (NCHW data, output sizes ONNX would compute otherwise,
 * an output padding ≥ the stride); the provider then runs the wasm kernel.
 *
 * @example
 * ```ts
 * const g = conv2dGraph([4, 64, 64, 32], [3, 3, 32, 64], { strides: 1, pad: 'same', dilations: 1 });
 * g?.spec.outputs[0].dims; // [4, 64, 64, 64]
 * ```
 *
 * @packageDocumentation
 */
import { tf } from '../backend/tf.js';
import type { Pad } from '../kernels/conv-grads.js';
import type { OnnxModelSpec, OnnxNode } from './onnx-proto.js';

/** The attributes tfjs passes to its conv kernels. */
export interface ConvAttrs {
  strides: number | number[];
  pad: Pad;
  dilations?: number | number[];
  dataFormat?: string;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** A graph for one op signature: the model and the shape of its single output. */
export interface KernelGraph {
  spec: OnnxModelSpec;
  outShape: number[];
}

type Shape4 = [number, number, number, number];
const OPSET = 17;
const NHWC_TO_NCHW = [0, 3, 1, 2];
const NCHW_TO_NHWC = [0, 2, 3, 1];
const HWIO_TO_OIHW = [3, 2, 0, 1]; // also [kh, kw, Cin, Cout] → ConvTranspose's [Cout(in), Cin(out), kh, kw]

function channelsLast(dataFormat: string | undefined): boolean {
  return dataFormat == null || dataFormat === 'NHWC' || dataFormat === 'channelsLast';
}

function info(xShape: Shape4, filterShape: Shape4, a: ConvAttrs, dilations: number | number[]) {
  return tf.backend_util.computeConv2DInfo(xShape, filterShape, a.strides as [number, number], dilations as [number, number], a.pad, a.dimRoundingMode, false, 'channelsLast');
}

/** ONNX's output length for a padded, strided, dilated window. */
function onnxOut(size: number, before: number, after: number, kernel: number, stride: number, dilation: number): number {
  return Math.floor((size + before + after - ((kernel - 1) * dilation + 1)) / stride) + 1;
}

const transpose = (input: string, output: string, perm: number[]): OnnxNode => ({ op: 'Transpose', inputs: [input], outputs: [output], attributes: [{ name: 'perm', ints: perm }] });

/** A graph with two 4-D inputs and one output of `outShape`. */
function twoInputGraph(inputs: [string, Shape4, string, Shape4], output: string, outShape: number[], nodes: OnnxNode[], constants?: OnnxModelSpec['constants']): KernelGraph {
  return {
    outShape,
    spec: { opset: OPSET, inputs: [{ name: inputs[0], dims: inputs[1] }, { name: inputs[2], dims: inputs[3] }], outputs: [{ name: output, dims: outShape }], nodes, ...(constants ? { constants } : {}) },
  };
}

/**
 * `y = conv2d(x, filter)` (tfjs kernel `Conv2D`): Transpose → Conv → Transpose.
 * @param xShape - `[B, H, W, Cin]`.
 * @param filterShape - `[kh, kw, Cin, Cout]`.
 * @returns the graph (`x`, `filter` → `y` `[B, outH, outW, Cout]`), or null when not expressible.
 * @example
 * ```ts
 * conv2dGraph([1, 8, 8, 3], [3, 3, 3, 4], { strides: 2, pad: 'same' })?.outShape; // [1, 4, 4, 4]
 * ```
 */
export function conv2dGraph(xShape: Shape4, filterShape: Shape4, a: ConvAttrs): KernelGraph | null {
  if (!channelsLast(a.dataFormat)) return null;
  const c = info(xShape, filterShape, a, a.dilations ?? 1);
  const { top, bottom, left, right } = c.padInfo;
  if (Math.min(top, bottom, left, right) < 0) return null;
  if (onnxOut(c.inHeight, top, bottom, c.filterHeight, c.strideHeight, c.dilationHeight) !== c.outHeight) return null;
  if (onnxOut(c.inWidth, left, right, c.filterWidth, c.strideWidth, c.dilationWidth) !== c.outWidth) return null;
  return twoInputGraph(['x', xShape, 'filter', filterShape], 'y', [c.batchSize, c.outHeight, c.outWidth, c.outChannels], [
    transpose('x', 'x_nchw', NHWC_TO_NCHW), // [B, Cin, H, W]
    transpose('filter', 'w_oihw', HWIO_TO_OIHW), // [Cout, Cin, kh, kw]
    {
      op: 'Conv',
      inputs: ['x_nchw', 'w_oihw'],
      outputs: ['y_nchw'], // [B, Cout, outH, outW]
      attributes: [
        { name: 'strides', ints: [c.strideHeight, c.strideWidth] },
        { name: 'dilations', ints: [c.dilationHeight, c.dilationWidth] },
        { name: 'pads', ints: [top, left, bottom, right] },
        { name: 'kernel_shape', ints: [c.filterHeight, c.filterWidth] },
      ],
    },
    transpose('y_nchw', 'y', NCHW_TO_NHWC), // [B, outH, outW, Cout]
  ]);
}

/**
 * `dx` of `conv2d(x, filter)` given `dy` (tfjs kernel `Conv2DBackpropInput`, also `conv2dTranspose`'s forward):
 * Transpose → ConvTranspose (with the output padding that reproduces `inputShape`) → Transpose; stride 1: the
 * correlation of `dy` with the flipped filter as a plain `Conv`.
 * @param dyShape - `[B, outH, outW, Cout]`.
 * @param filterShape - `[kh, kw, Cin, Cout]`.
 * @param inputShape - `[B, H, W, Cin]`, the shape of `dx`.
 * @example
 * ```ts
 * conv2dBackpropInputGraph([1, 4, 4, 4], [3, 3, 3, 4], [1, 8, 8, 3], { strides: 2, pad: 'same' })?.outShape; // [1, 8, 8, 3]
 * ```
 */
export function conv2dBackpropInputGraph(dyShape: Shape4, filterShape: Shape4, inputShape: Shape4, a: ConvAttrs): KernelGraph | null {
  if (!channelsLast(a.dataFormat)) return null;
  const c = info(inputShape, filterShape, a, 1);
  const { top, bottom, left, right } = c.padInfo;
  if (Math.min(top, bottom, left, right) < 0) return null;
  if (dyShape[1] !== c.outHeight || dyShape[2] !== c.outWidth || dyShape[3] !== c.outChannels || dyShape[0] !== c.batchSize) return null;
  const stride1 = stride1BackpropInput(dyShape, filterShape, inputShape, c);
  if (stride1) return stride1;
  // ConvTranspose's length: s·(in − 1) + outputPadding + k − padBefore − padAfter must equal the input length.
  const padH = c.inHeight - (c.strideHeight * (c.outHeight - 1) + c.filterHeight - top - bottom);
  const padW = c.inWidth - (c.strideWidth * (c.outWidth - 1) + c.filterWidth - left - right);
  if (padH < 0 || padW < 0 || padH >= c.strideHeight || padW >= c.strideWidth) return null;
  return twoInputGraph(['dy', dyShape, 'filter', filterShape], 'dx', [...inputShape], [
    transpose('dy', 'dy_nchw', NHWC_TO_NCHW), // [B, Cout, outH, outW]
    transpose('filter', 'w_t', HWIO_TO_OIHW), // [Cout, Cin, kh, kw]: ConvTranspose maps Cout → Cin
    {
      op: 'ConvTranspose',
      inputs: ['dy_nchw', 'w_t'],
      outputs: ['dx_nchw'], // [B, Cin, H, W]
      attributes: [
        { name: 'strides', ints: [c.strideHeight, c.strideWidth] },
        { name: 'pads', ints: [top, left, bottom, right] },
        { name: 'output_padding', ints: [padH, padW] },
        { name: 'kernel_shape', ints: [c.filterHeight, c.filterWidth] },
      ],
    },
    transpose('dx_nchw', 'dx', NCHW_TO_NHWC), // [B, H, W, Cin]
  ]);
}

/**
 * Stride 1: dx = dy ⋆ rot180(W) with the channel axes swapped, padded by (k − 1 − pad) on each side — a plain `Conv`
 * (MLAS's NCHWc path), 30–35 % less CPU than `ConvTranspose` on TinyUNet's 3×3 shapes. Null when a side would need
 * negative padding (then ConvTranspose).
 */
function stride1BackpropInput(dyShape: Shape4, filterShape: Shape4, inputShape: Shape4, c: ReturnType<typeof info>): KernelGraph | null {
  if (c.strideHeight !== 1 || c.strideWidth !== 1) return null;
  const [kh, kw] = filterShape;
  const { top, bottom, left, right } = c.padInfo;
  const pads = [kh - 1 - top, kw - 1 - left, kh - 1 - bottom, kw - 1 - right];
  if (pads.some((p) => p < 0)) return null;
  if (c.outHeight + pads[0]! + pads[2]! - kh + 1 !== c.inHeight || c.outWidth + pads[1]! + pads[3]! - kw + 1 !== c.inWidth) return null;
  const flip: OnnxModelSpec['constants'] = [
    { name: 'flip_starts', dims: [2], values: [-1, -1] },
    { name: 'flip_ends', dims: [2], values: [-(kh + 1), -(kw + 1)] },
    { name: 'flip_axes', dims: [2], values: [2, 3] },
    { name: 'flip_steps', dims: [2], values: [-1, -1] },
  ];
  return twoInputGraph(['dy', dyShape, 'filter', filterShape], 'dx', [...inputShape], [
    transpose('dy', 'dy_nchw', NHWC_TO_NCHW), // [B, Cout, outH, outW]
    transpose('filter', 'w_io', [2, 3, 0, 1]), // [Cin, Cout, kh, kw]: Conv from Cout to Cin channels
    { op: 'Slice', inputs: ['w_io', 'flip_starts', 'flip_ends', 'flip_axes', 'flip_steps'], outputs: ['w_flipped'] }, // rot180 over (kh, kw)
    { op: 'Conv', inputs: ['dy_nchw', 'w_flipped'], outputs: ['dx_nchw'], attributes: [{ name: 'pads', ints: pads }, { name: 'kernel_shape', ints: [kh, kw] }] }, // [B, Cin, H, W]
    transpose('dx_nchw', 'dx', NCHW_TO_NHWC), // [B, H, W, Cin]
  ], flip);
}

/**
 * `dW` of `conv2d(x, filter)` given `dy` (tfjs kernel `Conv2DBackpropFilter`), one `Gemm` per filter tap:
 * dW[i, j] = Σ_{b,y,x} xp[b, i + y·sh, j + x·sw, :]ᵀ · dy[b, y, x, :], the tap's strided `Slice` of the zero-padded
 * input `[B·outH·outW, Cin]` (transA) times `dy` `[B·outH·outW, Cout]`; the `[Cin, Cout]` blocks concatenated in
 * tap order are HWIO. (An im2col with one big product copies the patches twice — slices, then their concat — and
 * took 10–25 % more CPU time on TinyUNet's shapes.) A 1×1, stride-1, unpadded filter is a single product of `x`.
 * @param xShape - `[B, H, W, Cin]`.
 * @param dyShape - `[B, outH, outW, Cout]`.
 * @param filterShape - `[kh, kw, Cin, Cout]`, the shape of `dW`.
 * @example
 * ```ts
 * conv2dBackpropFilterGraph([1, 8, 8, 3], [1, 4, 4, 4], [3, 3, 3, 4], { strides: 2, pad: 'same' })?.outShape; // [3, 3, 3, 4]
 * ```
 */
export function conv2dBackpropFilterGraph(xShape: Shape4, dyShape: Shape4, filterShape: Shape4, a: ConvAttrs): KernelGraph | null {
  if (!channelsLast(a.dataFormat)) return null;
  const c = info(xShape, filterShape, a, 1);
  if (dyShape[1] !== c.outHeight || dyShape[2] !== c.outWidth || dyShape[3] !== c.outChannels || dyShape[0] !== c.batchSize) return null;
  const [kh, kw, cin, cout] = filterShape;
  const [B, H, W] = xShape;
  const [sh, sw] = [c.strideHeight, c.strideWidth];
  const { top, left } = c.padInfo;
  if (top < 0 || left < 0) return null;
  const n = B * c.outHeight * c.outWidth;
  const nodes: OnnxNode[] = [{ op: 'Reshape', inputs: ['dy', 'dy_shape'], outputs: ['dy2'] }]; // [B*outH*outW, Cout]
  const constants: NonNullable<OnnxModelSpec['constants']> = [
    { name: 'cols_shape', dims: [2], values: [n, cin] },
    { name: 'dy_shape', dims: [2], values: [n, cout] },
    { name: 'dw_shape', dims: [4], values: [...filterShape] },
  ];
  const tapProduct = (patch: string, t: string) =>
    nodes.push(
      { op: 'Reshape', inputs: [patch, 'cols_shape'], outputs: [`${t}_cols`] }, // [B*outH*outW, Cin]
      { op: 'Gemm', inputs: [`${t}_cols`, 'dy2'], outputs: [`${t}_dw`], attributes: [{ name: 'transA', int: 1 }] }, // [Cin, Cout]
    );
  const pointwise = kh === 1 && kw === 1 && sh === 1 && sw === 1 && top === 0 && left === 0 && c.outHeight === H && c.outWidth === W;
  const blocks: string[] = [];
  if (pointwise) {
    tapProduct('x', 'tap_0_0');
    blocks.push('tap_0_0_dw');
  } else {
    // Pad so every tap reads inside: rows i + y·sh − top for i < kh, y < outH (columns alike).
    const bottom = Math.max(0, kh - 1 + (c.outHeight - 1) * sh + 1 - H - top);
    const right = Math.max(0, kw - 1 + (c.outWidth - 1) * sw + 1 - W - left);
    let padded = 'x';
    if (top || bottom || left || right) {
      constants.push({ name: 'pads', dims: [8], values: [0, top, left, 0, 0, bottom, right, 0] });
      nodes.push({ op: 'Pad', inputs: ['x', 'pads'], outputs: ['x_padded'] }); // [B, Hp, Wp, Cin]
      padded = 'x_padded';
    }
    constants.push({ name: 'axes', dims: [4], values: [0, 1, 2, 3] }, { name: 'steps', dims: [4], values: [1, sh, sw, 1] });
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const t = `tap_${i}_${j}`;
        constants.push(
          { name: `${t}_starts`, dims: [4], values: [0, i, j, 0] },
          { name: `${t}_ends`, dims: [4], values: [B, i + (c.outHeight - 1) * sh + 1, j + (c.outWidth - 1) * sw + 1, cin] },
        );
        nodes.push({ op: 'Slice', inputs: [padded, `${t}_starts`, `${t}_ends`, 'axes', 'steps'], outputs: [t] }); // [B, outH, outW, Cin]
        tapProduct(t, t);
        blocks.push(`${t}_dw`);
      }
    }
  }
  if (blocks.length === 1) nodes.push({ op: 'Reshape', inputs: [blocks[0]!, 'dw_shape'], outputs: ['dw'] }); // [kh, kw, Cin, Cout]
  else {
    nodes.push(
      { op: 'Concat', inputs: blocks, outputs: ['dw2'], attributes: [{ name: 'axis', int: 0 }] }, // [kh*kw*Cin, Cout]
      { op: 'Reshape', inputs: ['dw2', 'dw_shape'], outputs: ['dw'] }, // [kh, kw, Cin, Cout]
    );
  }
  return twoInputGraph(['x', xShape, 'dy', dyShape], 'dw', [...filterShape], nodes, constants);
}
