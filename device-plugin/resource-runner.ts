// The life of one resource: scan and watch its devices, serve its socket,
// register with kubelet, and redo the last two whenever kubelet restarts.
// Every state change runs through one queue, so a rescan, a re-register and
// a config update of the same resource never interleave.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../lib/logging.ts';
import type { CallObserver } from '../lib/grpc/handler.ts';
import { errorMessage } from '../lib/errors.ts';
import { servePluginRegistration } from '../lib/grpc/plugin-registration.ts';
import { keepServing, type KeptSocket } from '../lib/grpc/socket-keeper.ts';
import type { ResourceConfig } from './config.ts';
import { DeviceState } from './health.ts';
import { DevicePluginServer } from './server.ts';
import { scanResource } from './discovery/scanner.ts';
import { DirWatcher } from './dir-watcher.ts';
import { API_VERSION, type Registrar } from './registration.ts';
import { KUBELET_SOCKET, kubeletSocketId } from './kubelet-watch.ts';
import type { CdiWriter } from './cdi.ts';
import { resourceFileStem } from './resource-file.ts';

export interface RunnerDeps {
  kubeletDir: string;
  /** plugins_registry dir when it exists: also serve a plugin-watcher Registration socket there. */
  pluginsRegistry?: string;
  sysfsRoot: string;
  cdi: CdiWriter;
  registrar: Registrar;
  log: Logger;
  observe?: CallObserver;
}

export function socketName(resource: string): string {
  return `${resourceFileStem(resource)}.sock`;
}

export class ResourceRunner {
  cfg: ResourceConfig;
  readonly state: DeviceState;
  private readonly server: DevicePluginServer;
  private readonly watcher: DirWatcher;
  private readonly deps: RunnerDeps;
  private readonly log: Logger;
  private queue: Promise<void> = Promise.resolve();
  private registeredWith: string | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs = 100;
  private regServer: KeptSocket | undefined;
  private closed = false;
  /** Successful Register calls so far (reported by DevicePlugins.registrations()). */
  registrations = 0;

  constructor(cfg: ResourceConfig, deps: RunnerDeps) {
    this.cfg = cfg;
    this.deps = deps;
    this.log = deps.log.child({ resource: cfg.name });
    this.state = new DeviceState(cfg.replicas);
    this.server = new DevicePluginServer({ resource: () => this.cfg, state: this.state, log: deps.log, ...(deps.observe ? { observe: deps.observe } : {}) });
    this.watcher = new DirWatcher({ onChange: () => this.rescan(), debounceMs: 5, renamesOnly: true });
  }

  get socket(): string {
    return socketName(this.cfg.name);
  }
  get socketPath(): string {
    return join(this.deps.kubeletDir, this.socket);
  }
  /** The plugin-watcher Registration socket, when one is served. */
  get registrationSocket(): string | undefined {
    return this.regServer?.path;
  }

  /** Run fn after every earlier step; a failure is logged (and rethrown only when asked: start). */
  private enqueue(what: string, fn: () => Promise<void>, rethrow = false): Promise<void> {
    const run = this.queue.then(async () => {
      if (this.closed && what !== 'close') return;
      try {
        await fn();
      } catch (e) {
        this.log.error({ err: errorMessage(e), op: what }, 'device plugin step failed');
        if (rethrow) throw e;
      }
    });
    this.queue = run.catch(() => {});
    return run;
  }

  async start(): Promise<void> {
    await this.enqueue(
      'start',
      async () => {
        const scan = scanResource(this.cfg, this.deps.sysfsRoot);
        this.state.reset(scan.devices);
        this.watcher.setDirs(scan.watchDirs);
        await this.deps.cdi.write(this.cfg, this.state.all());
        await this.server.start(this.socketPath);
        if (this.deps.pluginsRegistry) {
          // Kept: served again if kubelet's plugins_registry is deleted and recreated.
          const regPath = join(this.deps.pluginsRegistry, this.socket.replace(/\.sock$/, '-reg.sock'));
          this.regServer = await keepServing(
            regPath,
            () =>
              servePluginRegistration({
                socketPath: regPath,
                info: { type: 'DevicePlugin', name: this.cfg.name, endpoint: this.socketPath, supported_versions: [API_VERSION] },
                log: this.log,
                ...(this.deps.observe ? { observe: this.deps.observe } : {}),
              }),
            this.log,
          );
        }
        this.log.info({ socket: this.socketPath, devices: this.state.list().length }, 'serving');
        await this.registerIfKubelet();
      },
      true,
    );
  }

  /** Re-read the devices; push a new list only when something kubelet sees changed. */
  rescan(): Promise<void> {
    return this.enqueue('rescan', async () => {
      const scan = scanResource(this.cfg, this.deps.sysfsRoot);
      this.watcher.setDirs(scan.watchDirs);
      if (!this.state.apply(scan.devices)) return;
      this.server.broadcast();
      this.log.info({ devices: this.state.list().map((d) => `${d.ID}:${d.health}`) }, 'device list changed');
      await this.deps.cdi.write(this.cfg, this.state.all());
    });
  }

  updateConfig(cfg: ResourceConfig): Promise<void> {
    return this.enqueue('reconfigure', async () => {
      this.cfg = cfg;
      this.state.setReplicas(cfg.replicas);
      const scan = scanResource(cfg, this.deps.sysfsRoot);
      this.state.reset(scan.devices);
      this.watcher.setDirs(scan.watchDirs);
      this.server.broadcast();
      await this.deps.cdi.write(cfg, this.state.all());
      this.log.info({ devices: this.state.list().length }, 'config applied');
    });
  }

  /** After a change in the kubelet dir: serve again if our socket is gone, register again if kubelet is new. */
  resync(): Promise<void> {
    return this.enqueue('resync', async () => {
      if (!existsSync(this.socketPath)) {
        this.log.info('socket gone (kubelet restart?): serving again');
        await this.server.stop();
        await this.server.start(this.socketPath);
        this.registeredWith = undefined;
      }
      await this.registerIfKubelet();
    });
  }

  private async registerIfKubelet(): Promise<void> {
    const id = kubeletSocketId(this.deps.kubeletDir);
    if (id === undefined || id === this.registeredWith) return;
    try {
      await this.deps.registrar.register({
        kubeletSocket: join(this.deps.kubeletDir, KUBELET_SOCKET),
        endpoint: this.socket,
        resourceName: this.cfg.name,
        timeoutMs: 5000,
      });
      this.registeredWith = id;
      this.registrations++;
      this.retryMs = 100;
      this.log.info('registered with kubelet');
    } catch (e) {
      // kubelet.sock can exist before kubelet serves it; try again soon, backing off to 5 s.
      this.log.warn({ err: errorMessage(e), retryMs: this.retryMs }, 'register failed');
      if (this.retryTimer) clearTimeout(this.retryTimer);
      // Closed while this attempt was in flight: no retry, or its timer would hold the process open.
      if (this.closed) return;
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        void this.resync();
      }, this.retryMs);
      this.retryTimer.unref();
      this.retryMs = Math.min(this.retryMs * 2, 5000);
    }
  }

  drain(): Promise<void> {
    return this.enqueue('drain', async () => {
      this.server.drain();
    });
  }

  /**
   * Stop watchers and sockets. The CDI spec goes only with the resource
   * (`removeCdi`): on a mere shutdown (plugin upgrade) containers of running
   * pods that restart still resolve the CDI names kubelet cached for them.
   */
  close(removeCdi: boolean): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.watcher.close();
    return this.enqueue('close', async () => {
      await this.server.stop();
      await this.regServer?.close(200);
      if (removeCdi) await this.deps.cdi.remove(this.cfg.name);
    });
  }
}
