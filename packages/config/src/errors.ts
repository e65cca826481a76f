// Error types shared by every doorway (CLI and actions). Each carries the exit code the CLI uses:
// 2 for usage/configuration problems, 1 when the checked or attempted thing itself failed.

/** Base of all errors this suite raises on purpose; anything else is a bug. */
export class GuardedRolloutError extends Error {
  readonly exitCode: 1 | 2;
  constructor(message: string, exitCode: 1 | 2, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** Malformed or inconsistent configuration or input. Names the file, field and value. */
export class ConfigError extends GuardedRolloutError {
  readonly file: string | undefined;
  readonly field: string | undefined;
  constructor(message: string, details: { file?: string; field?: string; cause?: unknown } = {}) {
    super(details.file ? `${details.file}: ${message}` : message, 2, { cause: details.cause });
    this.file = details.file;
    this.field = details.field;
  }
}

/** Wrong command-line usage (unknown flag, missing argument). */
export class UsageError extends GuardedRolloutError {
  constructor(message: string) {
    super(message, 2);
  }
}

/** The thing being checked or attempted failed (gate violated, artifact missing, restore refused). */
export class CheckFailedError extends GuardedRolloutError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 1, options);
  }
}

/** Describes a value for an error message: strings quoted, everything else as JSON. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  try {
    const text = JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return String(value);
  }
}
