/**
 * `@consistent-avatar/emotion`.
 *
 * @packageDocumentation
 */
export {};
