/** A JSON/YAML mapping (not null, not an array): the check every config and result parser starts with. */
export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
