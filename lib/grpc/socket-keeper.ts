// Keeps a socket served at a fixed path when others may delete it. kubelet
// may remove and recreate its plugins_registry directory (a reinstall, a
// cleanup script, a kubelet restart on some distributions), taking our
// registration socket with it; kubelet only ever learns about a plugin from a
// socket in that directory, so the socket must come back on its own.
// Polling a stat every intervalMs is the whole mechanism: it is cheap, needs
// no watch on a directory that may itself vanish, and bounds the outage.
import { lstat } from 'node:fs/promises';
import type { Logger } from '../logging.ts';
import { errorMessage } from '../errors.ts';
import type { UnixServer } from './unix-server.ts';

export interface KeptSocket {
  path: string;
  /** Times the socket was served again after vanishing. */
  reserved(): number;
  close(graceMs?: number): Promise<void>;
}

export const KEEPER_INTERVAL_MS = 1000;

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Serve now (errors propagate), then serve again whenever the socket file is gone. */
export async function keepServing(path: string, serve: () => Promise<UnixServer>, log: Logger, intervalMs = KEEPER_INTERVAL_MS): Promise<KeptSocket> {
  let current: UnixServer | undefined = await serve();
  let count = 0;
  let closed = false;
  let busy = false;
  const timer = setInterval(() => {
    if (busy || closed) return;
    busy = true;
    void (async () => {
      if (await exists(path)) return;
      log.warn({ socket: path }, 'socket removed (directory recreated?): serving it again');
      const old = current;
      current = undefined;
      await old?.close(100).catch(() => {});
      if (closed) return;
      current = await serve();
      count++;
      if (closed) await current.close(100);
    })()
      .catch((e: unknown) => log.error({ socket: path, err: errorMessage(e) }, 'serving the socket again failed; will retry'))
      .finally(() => {
        busy = false;
      });
  }, intervalMs);
  timer.unref();
  return {
    path,
    reserved: () => count,
    async close(graceMs) {
      closed = true;
      clearInterval(timer);
      await current?.close(graceMs);
    },
  };
}
