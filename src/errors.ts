/**
 * Errors every stage can raise. A `BadInputError` means the user's input (flags, artifacts, contract, profile) is
 * wrong: the run stops before any destination write, and the CLI exits with the "bad input" code.
 */
export class BadInputError extends Error {
  /** Where the problem is: a file, and inside it a model, contract, field or row, as precisely as known. */
  readonly where: string | undefined;
  readonly details: string[];

  constructor(message: string, options: { where?: string; details?: string[]; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "BadInputError";
    this.where = options.where;
    this.details = options.details ?? [];
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Another runner holds what this run needs (a contract's lease, or the warehouse file): nothing was done. */
export class BusyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BusyError";
  }
}
