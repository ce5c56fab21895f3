/**
 * How the CLI ends. Commands never call process.exit: they return, or throw one of these, and
 * src/index.ts maps it to an exit code in one place. A UserError is expected (bad input, unknown
 * build, API or emulator down) and prints one line without a stack; anything else is a bug.
 */

/** Ends the process with `code`; whatever needed saying was already printed. */
export class ExitError extends Error {
  readonly code: number;

  constructor(code: number) {
    super(`exit ${code}`);
    this.name = 'ExitError';
    this.code = code;
  }
}

/** An expected failure: its message is printed as is (plus a hint), then the process exits with `code`. */
export class UserError extends Error {
  readonly code: number;
  readonly hint: string | undefined;

  constructor(message: string, options: { code?: number; hint?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code ?? 1;
    this.hint = options.hint;
  }
}

/** A flag value the parser accepted but the command cannot use (`--at yesterday`). */
export class UsageError extends UserError {
  constructor(message: string) {
    super(message, { code: 1, hint: 'see --help' });
  }
}

/** The build API answered with an error body `{ error, message, fields? }`. */
export class ApiError extends UserError {
  readonly status: number;
  readonly error: string;
  readonly fields: string[];

  constructor(status: number, error: string, message: string, fields: string[] = []) {
    super(fields.length > 0 && !fields.every((f) => message.includes(f)) ? `${message} (${fields.join('; ')})` : message);
    this.status = status;
    this.error = error;
    this.fields = fields;
  }
}

/** The build API wants a token this CLI did not send, or refused the one it sent. */
export class UnauthorizedError extends UserError {}

/** Nothing answers at the API's or the emulator's address. */
export class UnreachableError extends UserError {}

/** The network error codes that mean "nothing is listening there" rather than a failed request. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ECONNRESET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET']);

/** Whether `error` (or one of its causes) is a connection failure. */
export function isConnectionFailure(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return true;
    if (e instanceof AggregateError && e.errors.some(isConnectionFailure)) return true;
  }
  return false;
}
