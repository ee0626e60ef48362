/**
 * Errors of service operations. All are RuleErrors (bad input or a refused rule: the CLI exits 2); the HTTP API
 * maps them to a status: InputError 400 (names the field), NotFoundError 404, ConflictError 409, ForbiddenError 403,
 * any other RuleError 400.
 */
import { RuleError } from '../tenants/rules.js';

export { RuleError };

/** A bad value of one input field: the message names the field and the reason. */
export class InputError extends RuleError {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'InputError';
  }
}

/** Unknown object, or an object the actor may not see (another tenant's looks exactly like a missing one). */
export class NotFoundError extends RuleError {
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

/** The request contradicts an earlier one (an Idempotency-Key reused with another body, a duplicate name). */
export class ConflictError extends RuleError {
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

/** The actor may not do this at all (a tenant token on an operator operation, a read-only operator writing). */
export class ForbiddenError extends RuleError {
  constructor(message: string) {
    super(message);
    this.name = 'ForbiddenError';
  }
}
