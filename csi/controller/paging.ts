// ListVolumes / ListSnapshots pagination. The token names the last id handed
// out ("after:<id>"), not an offset: entries deleted or created between pages
// then never cause duplicates, and a token we did not issue is ABORTED.
import { aborted, invalidArgument } from '../../lib/grpc/status-error.ts';
import { isWellFormedId } from '../validate.ts';

const TOKEN_PREFIX = 'after:';

export function page<T extends { id: string }>(all: T[], maxEntries: number | undefined, startingToken: string | undefined): { items: T[]; next: string } {
  if ((maxEntries ?? 0) < 0) throw invalidArgument('max_entries must not be negative');
  const sorted = [...all].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  let start = 0;
  if (startingToken) {
    const after = startingToken.startsWith(TOKEN_PREFIX) ? startingToken.slice(TOKEN_PREFIX.length) : '';
    if (!isWellFormedId(after)) throw aborted(`starting_token ${JSON.stringify(startingToken.slice(0, 80))} was not issued by this driver`);
    start = sorted.findIndex((x) => x.id > after);
    if (start < 0) start = sorted.length;
  }
  const max = maxEntries || sorted.length;
  const items = sorted.slice(start, start + max);
  const more = start + max < sorted.length && items.length > 0;
  return { items, next: more ? `after:${items[items.length - 1]!.id}` : '' };
}
