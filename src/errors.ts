// Errors a user can cause. Each carries a one-line message that says what happened and what to do; the CLI
// prints it without a stack trace and exits with code 2.

export class UserError extends Error {
  override name = 'UserError';
}

/** Error classes whose messages are written for users (the CLI prints them as one line, exit code 2). */
const USER_ERROR_NAMES = new Set([
  'UserError',
  'ConfigError',
  'SafetensorsError',
  'ModelLoadError',
  'ModelShapeError',
  'GenerateError',
  'SamplingOptionError',
  'NoAdapterError',
  'ModelFilesError',
  'HubError',
]);

export function isUserError(e: unknown): boolean {
  return e instanceof Error && USER_ERROR_NAMES.has(e.name);
}
