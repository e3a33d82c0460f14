/**
 * An error whose message is meant for the person at the terminal: the CLI prints it as one
 * line and exits non-zero, without a stack trace (unless --debug).
 */
export class UserError extends Error {
  override name = 'UserError';
}
