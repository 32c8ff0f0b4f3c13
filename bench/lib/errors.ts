/**
 * A short, stable label for an error, for "errors by name" tables: the class name, and for
 * libraries that throw plain `Error`/`ReplyError` the first words of the message with numbers
 * and addresses removed (ioredis' "Command timed out", a READONLY reply, ...).
 */
export function errorLabel(error: unknown): string {
  if (!(error instanceof Error)) return typeof error;
  const name = error.name || 'Error';
  if (name !== 'Error' && name !== 'ReplyError' && name !== 'SimpleError' && name !== 'ErrorReply') {
    return name;
  }
  const words = error.message
    .replace(/\d+\.\d+\.\d+\.\d+(:\d+)?/g, '')
    .replace(/\d+/g, '')
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 4)
    .join(' ')
    .replace(/[.:,]+$/, '');
  return words ? `${name}: ${words}` : name;
}

/** Resolve with the promise's value, or reject after `ms` (the promise keeps running). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
