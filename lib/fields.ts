// The one field-collecting validator every component's options go through: a
// typed reader over one mapping (a YAML document, or flags parsed into one)
// where each accessor returns the field's value or its default and records a
// problem naming the field (its dotted path, or its flag) when the value has
// the wrong type or range. Problems are shared by the whole tree so one run
// reports every bad field at once.
import { isAbsolute } from 'node:path';
import { isIP } from 'node:net';

type Obj = Record<string, unknown>;

/** A rule for a string field: a RegExp or any predicate, and what it means, for the message. */
export interface Rule {
  pattern: { test(s: string): boolean };
  what: string;
}

export class Fields {
  readonly problems: string[];
  private readonly obj: Obj;
  private readonly prefix: string;
  private readonly label: (path: string) => string;

  /** `label` turns a field's dotted path into what the user typed (a flag name for command lines). */
  constructor(value: unknown, prefix: string, problems: string[] = [], label: (path: string) => string = (p) => p) {
    this.problems = problems;
    this.prefix = prefix;
    this.label = label;
    if (value === undefined || value === null) {
      this.obj = {};
    } else if (typeof value !== 'object' || Array.isArray(value)) {
      this.problem(prefix || '(top level)', 'must be a mapping');
      this.obj = {};
    } else {
      this.obj = value as Obj;
    }
  }

  private name(key: string): string {
    return this.label(this.prefix ? `${this.prefix}.${key}` : key);
  }

  problem(field: string, message: string): void {
    this.problems.push(`${field}: ${message}`);
  }

  /** A problem with one of this mapping's own keys, named as the other accessors name it. */
  problemAt(key: string, message: string): void {
    this.problem(this.name(key), message);
  }

  object(key: string): Fields {
    return new Fields(this.obj[key], this.prefix ? `${this.prefix}.${key}` : key, this.problems, this.label);
  }

  /** True when the key is present (not undefined/null). */
  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }

  /** Unknown keys are reported: a typo must not silently fall back to a default. */
  noOthers(known: readonly string[]): void {
    for (const k of Object.keys(this.obj)) {
      if (!known.includes(k)) this.problem(this.name(k), `unknown field (known: ${known.join(', ')})`);
    }
  }

  raw(key: string): unknown {
    return this.obj[key] ?? undefined;
  }

  string(key: string, def: string, rule?: Rule): string {
    const v = this.obj[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'string') {
      this.problem(this.name(key), `must be a string, got ${JSON.stringify(v)}`);
      return def;
    }
    if (rule && !rule.pattern.test(v)) {
      this.problem(this.name(key), `must be ${rule.what}, got ${JSON.stringify(v)}`);
      return def;
    }
    return v;
  }

  path(key: string, def: string): string {
    return this.optionalPath(key) ?? def;
  }

  optionalPath(key: string): string | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || !isAbsolute(v)) {
      this.problem(this.name(key), `must be an absolute path, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  }

  pathList(key: string, def: string[]): string[] {
    const v = this.obj[key];
    if (v === undefined || v === null) return def;
    if (!Array.isArray(v) || !v.every((p) => typeof p === 'string' && isAbsolute(p))) {
      this.problem(this.name(key), `must be a list of absolute paths, got ${JSON.stringify(v)}`);
      return def;
    }
    return v as string[];
  }

  oneOf(key: string, allowed: readonly string[], def: string): string {
    const v = this.obj[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'string' || !allowed.includes(v)) {
      this.problem(this.name(key), `must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
      return def;
    }
    return v;
  }

  bool(key: string, def: boolean): boolean {
    const v = this.obj[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'boolean') {
      this.problem(this.name(key), `must be true or false, got ${JSON.stringify(v)}`);
      return def;
    }
    return v;
  }

  int(key: string, def: number, min: number, max: number): number {
    return this.optionalInt(key, min, max) ?? def;
  }

  optionalInt(key: string, min: number, max: number): number | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.problem(this.name(key), `must be an integer between ${min} and ${max}, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  }

  /** A number (not only integers) in [min, max]. */
  number(key: string, def: number, min: number, max: number): number {
    const v = this.obj[key];
    if (v === undefined || v === null) return def;
    const n = typeof v === 'string' && /^\d+(\.\d+)?$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n) || n < min || n > max) {
      this.problem(this.name(key), `must be a number from ${min} to ${max}, got ${JSON.stringify(v)}`);
      return def;
    }
    return n;
  }

  /** A size in bytes: an integer, or a string with a binary suffix (`512Mi`, `1Gi`, `2Ti`). */
  optionalBytes(key: string): number | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) return undefined;
    const m =
      typeof v === 'number'
        ? Number.isSafeInteger(v) && v >= 0
          ? [String(v), String(v), '']
          : null
        : typeof v === 'string'
          ? /^(\d+)(Ki|Mi|Gi|Ti)?$/.exec(v)
          : null;
    if (!m) {
      this.problem(this.name(key), `must be a byte count, optionally with Ki, Mi, Gi or Ti, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return Number(m[1]) * 1024 ** ['', 'Ki', 'Mi', 'Gi', 'Ti'].indexOf(m[2] ?? '');
  }

  cidrList(key: string): string[] {
    const v = this.obj[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.problem(this.name(key), `must be a list of CIDRs, got ${JSON.stringify(v)}`);
      return [];
    }
    const bad = v.filter((c) => typeof c !== 'string' || !isCidr(c));
    if (bad.length) {
      this.problem(this.name(key), `not a CIDR: ${bad.map((b) => JSON.stringify(b)).join(', ')}`);
      return [];
    }
    return v as string[];
  }
}

/** `10.244.1.0/24`, `fd00:10:244:1::/64`. */
export function isCidr(s: string): boolean {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return false;
  const fam = isIP(m[1]!);
  const bits = Number(m[2]);
  return (fam === 4 && bits <= 32) || (fam === 6 && bits <= 128);
}
