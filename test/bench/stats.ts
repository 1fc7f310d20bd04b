// Summary statistics shared by the benchmarks: medians and tail percentiles,
// never a lone mean, because these machines are shared and noisy.
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const s = [...samples].sort((a, b) => a - b);
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[idx]!;
}

export const median = (s: readonly number[]) => percentile(s, 50);

export function fmtMs(ms: number): string {
  return `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
}

export function summary(label: string, samples: readonly number[]): string {
  return `${label.padEnd(34)} median ${fmtMs(median(samples)).padStart(9)}  p99 ${fmtMs(percentile(samples, 99)).padStart(9)}  (n=${samples.length})`;
}

export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
