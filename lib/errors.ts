// `catch (e)` gives `unknown`; these helpers read it without trusting its shape.

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === 'string') return e;
  try {
    return JSON.stringify(e);
  } catch {
    return String(e);
  }
}

/** The errno code of a Node system error (`ENOENT`, `EEXIST`, ...), if any. */
export function errnoCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'string') {
    return (e as { code: string }).code;
  }
  return undefined;
}

export function isNotFound(e: unknown): boolean {
  return errnoCode(e) === 'ENOENT';
}
