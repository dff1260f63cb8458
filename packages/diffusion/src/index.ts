/**
 * `@consistent-avatar/diffusion`.
 *
 * @packageDocumentation
 */
export {};
