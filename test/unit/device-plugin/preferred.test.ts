import { describe, it, expect } from 'vitest';
import { preferredAllocation } from '../../../device-plugin/preferred.ts';

// Eight GPUs: g0-g3 on NUMA 0, g4-g5 on NUMA 1, g6 on NUMA 2, x0 with no NUMA node.
const NUMA: Record<string, number | undefined> = { g0: 0, g1: 0, g2: 0, g3: 0, g4: 1, g5: 1, g6: 2, x0: undefined };
const numaOf = (id: string) => NUMA[id];
const ALL = Object.keys(NUMA);

describe('preferredAllocation', () => {
  it.each([
    { name: 'fits on the tightest single node', available: ALL, must: [], size: 2, want: ['g4', 'g5'] },
    { name: 'one device: the smallest node, leaving big nodes whole', available: ALL, must: [], size: 1, want: ['g6'] },
    { name: 'four: only node 0 holds them', available: ALL, must: [], size: 4, want: ['g0', 'g1', 'g2', 'g3'] },
    { name: 'must_include pulls the rest onto its node', available: ALL, must: ['g5'], size: 2, want: ['g5', 'g4'] },
    { name: 'must_include on node 0 stays there', available: ALL, must: ['g2'], size: 3, want: ['g2', 'g0', 'g1'] },
    { name: 'must_include ids are kept even if size is smaller', available: ALL, must: ['g1', 'g4'], size: 1, want: ['g1', 'g4'] },
    { name: 'must_include node too small: spans, its node first, then the biggest', available: ALL, must: ['g6'], size: 3, want: ['g6', 'g0', 'g1'] },
    { name: 'no single node fits: span as few nodes as possible', available: ALL, must: [], size: 6, want: ['g0', 'g1', 'g2', 'g3', 'g4', 'g5'] },
    { name: 'NUMA-less devices come last', available: ALL, must: [], size: 8, want: ['g0', 'g1', 'g2', 'g3', 'g4', 'g5', 'g6', 'x0'] },
    { name: 'only unknown-NUMA devices: natural order', available: ['x0'], must: [], size: 1, want: ['x0'] },
    { name: 'not enough available: everything it has', available: ['g0', 'g4'], must: [], size: 3, want: ['g0', 'g4'] },
    { name: 'restricted availability still prefers one node', available: ['g0', 'g4', 'g5'], must: [], size: 2, want: ['g4', 'g5'] },
    { name: 'size 0 → empty', available: ALL, must: [], size: 0, want: [] },
    { name: 'duplicate ids are ignored', available: ['g4', 'g4', 'g5'], must: ['g4', 'g4'], size: 2, want: ['g4', 'g5'] },
  ])('$name', ({ available, must, size, want }) => {
    expect(preferredAllocation(available, must, size, numaOf)).toEqual(want);
  });

  it('orders ids naturally within a node (dev2 before dev10)', () => {
    expect(preferredAllocation(['dev10', 'dev2', 'dev1'], [], 2, () => 0)).toEqual(['dev1', 'dev2']);
  });

  it('keeps shared replicas of one device together', () => {
    const ids = ['a::0', 'a::1', 'b::0', 'b::1'];
    expect(preferredAllocation(ids, [], 2, (id) => (id.startsWith('a') ? 0 : 1))).toEqual(['a::0', 'a::1']);
  });
});
