/** Argument checks shared by the optimizer, the schedules and the list helpers. */
import { typeError, valueError } from './errors';

/** A finite number (TypeError for another type, ValueError for NaN or ±Infinity). */
export function finiteNumber(owner: string, what: string, value: unknown): number {
  if (typeof value !== 'number') throw typeError(owner, what, 'a number', value);
  if (!Number.isFinite(value)) throw valueError(owner, what, 'a finite number', value);
  return value;
}

/** A finite number ≥ 0. */
export function nonNegative(owner: string, what: string, value: unknown): number {
  const x = finiteNumber(owner, what, value);
  if (!(x >= 0)) throw valueError(owner, what, '>= 0', x);
  return x;
}

/** A finite number > 0. */
export function positive(owner: string, what: string, value: unknown): number {
  const x = finiteNumber(owner, what, value);
  if (!(x > 0)) throw valueError(owner, what, '> 0', x);
  return x;
}

/** An integer > 0. */
export function positiveInteger(owner: string, what: string, value: unknown): number {
  const x = finiteNumber(owner, what, value);
  if (!Number.isSafeInteger(x) || x <= 0) throw valueError(owner, what, 'a positive integer', x);
  return x;
}

/** A boolean. */
export function boolean(owner: string, what: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw typeError(owner, what, 'a boolean', value);
  return value;
}
