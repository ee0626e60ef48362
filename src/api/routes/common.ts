/** Small helpers of the route modules: input conversion with field-named 400s. */
import { InputError } from '../../services/errors.js';

export function instant(field: string, text: string | undefined): Date | undefined {
  if (text === undefined) return undefined;
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) throw new InputError(field, 'not a real time');
  return d;
}

export const pick = <T extends object, K extends keyof T>(o: T, keys: K[]): Partial<Pick<T, K>> =>
  Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])) as Partial<Pick<T, K>>;
