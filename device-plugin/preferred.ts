// GetPreferredAllocation: which `size` of the available ids to take. Devices
// on one NUMA node keep a workload's memory traffic local, so: keep the
// must-include ids, then fill from a single NUMA node if one can hold the
// rest (preferring the must-include ids' node, then the tightest fit, so big
// nodes stay whole for big requests), else span as few nodes as possible.
import { naturalCompare } from './discovery/glob.ts';

export type NumaOf = (id: string) => number | undefined;

const NONE = -1;

export function preferredAllocation(available: readonly string[], mustInclude: readonly string[], size: number, numaOf: NumaOf): string[] {
  const result = [...new Set(mustInclude)];
  if (result.length >= size) return result;
  const taken = new Set(result);
  const candidates = [...new Set(available)].filter((id) => !taken.has(id)).sort(naturalCompare);
  const need = size - result.length;

  const groups = new Map<number, string[]>();
  for (const id of candidates) {
    const n = numaOf(id) ?? NONE;
    const g = groups.get(n);
    if (g) g.push(id);
    else groups.set(n, [id]);
  }
  const mustNodes = new Set(result.map((id) => numaOf(id) ?? NONE));
  const order = [...groups.keys()].sort((a, b) => a - b);

  // One node that fits everything: the must-include node if it can, else the tightest fit.
  const fits = order.filter((n) => n !== NONE && groups.get(n)!.length >= need);
  const preferred = fits.filter((n) => mustNodes.has(n));
  // With must-include ids on a node that cannot take the rest, any plan spans nodes: let the span below decide.
  const pool = preferred.length > 0 ? preferred : result.length === 0 ? fits : [];
  const choice = pool.sort((a, b) => groups.get(a)!.length - groups.get(b)!.length || a - b)[0];
  if (choice !== undefined) return [...result, ...groups.get(choice)!.slice(0, need)];

  // Span nodes: must-include nodes first, then the biggest groups, NUMA-less devices last.
  const spanOrder = [...order].sort((a, b) => {
    const ma = mustNodes.has(a) ? 0 : 1,
      mb = mustNodes.has(b) ? 0 : 1;
    if (ma !== mb) return ma - mb;
    if ((a === NONE) !== (b === NONE)) return a === NONE ? 1 : -1;
    return groups.get(b)!.length - groups.get(a)!.length || a - b;
  });
  for (const n of spanOrder) {
    for (const id of groups.get(n)!) {
      if (result.length >= size) return result;
      result.push(id);
    }
  }
  return result;
}
