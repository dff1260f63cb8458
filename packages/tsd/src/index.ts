/**
 * `@consistent-avatar/tsd`.
 *
 * @packageDocumentation
 */
export {};
