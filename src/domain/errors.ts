/**
 * An error whose message is meant for the person at the terminal: the CLI prints it as one
 * line and exits non-zero, without a stack trace (unless --debug).
 */
export class UserError extends Error {
  override name = 'UserError';
}

/** The thing asked about does not exist (HTTP 404). */
export class NotFoundError extends UserError {
  override name = 'NotFoundError';
}

/** The request is valid but not in the thing's current state (HTTP 409). */
export class ConflictError extends UserError {
  override name = 'ConflictError';
}
