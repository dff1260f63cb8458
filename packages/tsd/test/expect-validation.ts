/** Test helper: assert that `run` throws a ValidationError from `fn` naming `argument`. */
import { expect } from 'vitest';
import { ValidationError } from '@consistent-avatar/core';

export function expectValidationError(run: () => unknown, fn: string, argument: string): void {
  let caught: unknown;
  try {
    run();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(ValidationError);
  const error = caught as ValidationError;
  expect(error.fn).toBe(fn);
  expect(error.argument).toBe(argument);
  expect(error.message.startsWith(`${fn}: argument '${argument}' expected `)).toBe(true);
}
