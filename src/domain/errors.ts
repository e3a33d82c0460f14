/** Which part of a request was wrong, and where in it (a segment's text: its position). */
export interface FieldProblem {
  field: string;
  message: string;
  /** 0-based character offset into the field's text, with its line and column (1-based). */
  position?: number;
  line?: number;
  column?: number;
}

/**
 * An error whose message is meant for the person at the terminal: the CLI prints it as one
 * line and exits non-zero, without a stack trace (unless --debug). The API answers it as
 * `{ error, fields? }`.
 */
export class UserError extends Error {
  override name = 'UserError';
  constructor(
    message: string,
    /** The request fields it is about, when the caller can name them (the API shows them). */
    readonly fields?: FieldProblem[],
  ) {
    super(message);
  }
}

/** The thing asked about does not exist (HTTP 404). */
export class NotFoundError extends UserError {
  override name = 'NotFoundError';
}

/** The request is valid but not in the thing's current state (HTTP 409). */
export class ConflictError extends UserError {
  override name = 'ConflictError';
}
