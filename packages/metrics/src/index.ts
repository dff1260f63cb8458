/**
 * `@consistent-avatar/metrics`.
 *
 * @packageDocumentation
 */
export {};
