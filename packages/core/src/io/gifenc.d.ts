// Types for the parts of `gifenc` (https://github.com/mattdesl/gifenc, CJS, no bundled types) that io/video.ts uses.
declare module 'gifenc' {
  export interface GifFrameOptions {
    palette?: number[][];
    /** Frame delay in milliseconds. */
    delay?: number;
    /** 0 = loop forever, -1 = play once, n = repeat n times (read from the first frame). */
    repeat?: number;
    transparent?: boolean;
    transparentIndex?: number;
  }
  export interface GifEncoderInstance {
    writeFrame(index: Uint8Array, width: number, height: number, options?: GifFrameOptions): void;
    finish(): void;
    bytes(): Uint8Array;
  }
  export function GIFEncoder(options?: { auto?: boolean; initialCapacity?: number }): GifEncoderInstance;
  export function quantize(
    rgba: Uint8Array | Uint8ClampedArray,
    maxColors: number,
    options?: { format?: 'rgb565' | 'rgb444' | 'rgba4444' },
  ): number[][];
  export function applyPalette(
    rgba: Uint8Array | Uint8ClampedArray,
    palette: number[][],
    format?: 'rgb565' | 'rgb444' | 'rgba4444',
  ): Uint8Array;
  /** Under Node's ESM loader, the CommonJS exports object. */
  const library: { GIFEncoder: typeof GIFEncoder; quantize: typeof quantize; applyPalette: typeof applyPalette };
  export default library;
}
