// The agent's asynchronous DEL. DEL marks the attachment's leases
// "releasing" (cni/ipam/lease-store.ts) and answers; this queue then deletes
// the host veth (which takes the container end with it — the kernel's RCU wait,
// 20–40 ms, that a synchronous DEL makes the runtime sit through), removes the
// masquerade entries, and only then releases the leases, so an address is
// never on two live veths. The marks are on disk: an agent killed mid-teardown
// finds them at its next start (recover) and finishes the work; GC releases
// them too.
import { readdirSync } from 'node:fs';
import { join, basename } from 'node:path';
import type { HostExec } from '../lib/exec.ts';
import type { HostView } from './net/host-view.ts';
import type { LinkRunner } from './net/ip-link.ts';
import { hostVethName } from './net/veth.ts';
import { delScript, runNft } from './net/masq.ts';
import { LeaseStore } from './ipam/lease-store.ts';
import { errorMessage } from '../lib/errors.ts';

export interface TeardownJob {
  /** ipam.dataDir: the leases are in dataDir/network/. */
  dataDir: string;
  network: string;
  containerId: string;
  ifname: string;
}

export interface TeardownDeps {
  ip: LinkRunner;
  exec: HostExec;
  view: HostView;
  log: { warn(o: object, msg: string): void; debug(o: object, msg: string): void };
  /** Called after each finished teardown (metrics). */
  onDone?: (ok: boolean) => void;
}

const RETRY_MS = [200, 1000, 5000, 15_000];

export const attachmentKey = (containerId: string, ifname: string) => `${containerId}\u0000${ifname}`;

export class TeardownQueue {
  private readonly deps: TeardownDeps;
  private readonly running = new Map<string, Promise<void>>();
  private stopped = false;

  constructor(deps: TeardownDeps) {
    this.deps = deps;
  }

  get pending(): number {
    return this.running.size;
  }

  /** Run the teardown in the background; one at a time per attachment. */
  schedule(job: TeardownJob): void {
    const key = attachmentKey(job.containerId, job.ifname);
    const before = this.running.get(key) ?? Promise.resolve();
    const p = before
      .then(() => this.runWithRetries(job))
      .finally(() => {
        if (this.running.get(key) === p) this.running.delete(key);
      });
    this.running.set(key, p);
  }

  /** Resolves once no teardown of this attachment is pending (an ADD of the same attachment waits for it: same veth name). */
  async settled(containerId: string, ifname: string): Promise<void> {
    for (let p = this.running.get(attachmentKey(containerId, ifname)); p; p = this.running.get(attachmentKey(containerId, ifname))) await p;
  }

  /** Every pending teardown finished (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.all([...this.running.values()]);
  }

  /** Stop retrying (shutdown); marks stay on disk for the next start. */
  stop(): void {
    this.stopped = true;
  }

  /** At start: schedule the teardowns a killed agent left unfinished, found under each IPAM data dir. Returns how many. */
  recover(dataDirs: readonly string[]): number {
    let n = 0;
    for (const dataDir of dataDirs) {
      let networks: string[];
      try {
        networks = readdirSync(dataDir);
      } catch {
        continue;
      }
      for (const network of networks) {
        const store = new LeaseStore(dataDir, network, this.deps.view.bootId());
        let leases: ReturnType<LeaseStore['all']>;
        try {
          leases = store.all();
        } catch {
          continue;
        }
        const seen = new Set<string>();
        for (const l of leases) {
          const key = attachmentKey(l.containerId, l.ifname);
          if (!l.releasing || seen.has(key)) continue;
          seen.add(key);
          this.schedule({ dataDir, network, containerId: l.containerId, ifname: l.ifname });
          n++;
        }
      }
    }
    return n;
  }

  private async runWithRetries(job: TeardownJob): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.runOnce(job);
        this.deps.onDone?.(true);
        return;
      } catch (e) {
        const wait = RETRY_MS[attempt];
        if (wait === undefined || this.stopped) {
          // Left marked: the next agent start or GC finishes it.
          this.deps.log.warn({ ...job, err: errorMessage(e) }, 'teardown failed; left for restart or GC');
          this.deps.onDone?.(false);
          return;
        }
        await new Promise((r) => setTimeout(r, wait).unref());
      }
    }
  }

  private async runOnce(job: TeardownJob): Promise<void> {
    const { ip, exec, view } = this.deps;
    const veth = hostVethName(job.containerId, job.ifname);
    if (view.linkExists(veth)) {
      const r = await ip.applyForce([{ op: 'link-del', dev: veth }]);
      if (r && r.exitCode !== 0 && view.linkExists(veth)) throw new Error(`ip link del ${veth}: ${r.stderr.trim()}`);
    }
    const store = new LeaseStore(job.dataDir, basename(join(job.dataDir, job.network)), view.bootId());
    const mine = store.byOwner(job.containerId, job.ifname).filter((l) => l.releasing);
    const masq = mine.filter((l) => l.releasing!.masq).map((l) => l.ip);
    if (masq.length) await runNft(exec, delScript(job.network, masq));
    for (const l of mine) store.releaseIfReleasing(l.ip, job.containerId, job.ifname);
    this.deps.log.debug({ ...job, veth, released: mine.map((l) => l.ip) }, 'teardown done');
  }
}
