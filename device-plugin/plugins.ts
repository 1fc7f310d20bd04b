// startDevicePlugins: one process serving every configured resource, each on
// its own socket. Used by `hostplane device-plugin` and embedded by the agent.
// Watches three things: device dirs (per resource), the kubelet dir (restarts)
// and the config file's dir (reload without restart; a bad file is logged and
// the running config kept).
import { existsSync, statSync, readFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Logger } from '../lib/logging.ts';
import type { CallObserver } from '../lib/grpc/handler.ts';
import { errorMessage } from '../lib/errors.ts';
import { loadConfigFile, parseConfigText, type DeviceResourcesConfig, type ResourceConfig } from './config.ts';
import { ResourceRunner, type RunnerDeps } from './resource-runner.ts';
import { watchKubeletDir } from './kubelet-watch.ts';
import { DirWatcher } from './dir-watcher.ts';
import { CdiWriter } from './cdi.ts';
import { grpcRegistrar, type Registrar } from './registration.ts';
import { DEVICE_PLUGIN_DEFAULTS as DEFAULTS, type DevicePluginOptions } from './options.ts';

export type { DeviceResourcesConfig };

/** The validated options (device-plugin/options.ts; defaults filled in for any left out) plus the process's seams. */
export type StartOptions = Partial<DevicePluginOptions> & {
  log: Logger;
  observe?: CallObserver;
  /** Seam for tests; the real one dials kubelet.sock. */
  registrar?: Registrar;
};

export interface DevicePlugins {
  /** Send an empty device list on every stream (before shutdown). */
  drain(): Promise<void>;
  /** Sockets removed; CDI specs kept (see ResourceRunner.close). */
  close(): Promise<void>;
  devices(): Array<{ resource: string; id: string; health: 'Healthy' | 'Unhealthy' }>;
  /** Successful Register calls per resource since start. */
  registrations(): Record<string, number>;
  /** Each resource's sockets, for liveness checks. */
  endpoints(): Array<{ resource: string; socket: string; registrationSocket?: string }>;
}

export async function startDevicePlugins(opts: StartOptions): Promise<DevicePlugins> {
  const { log } = opts;
  if (!opts.config && !opts.configPath) throw new Error('startDevicePlugins: configPath or config is required');
  let config = opts.config ?? (await loadConfigFile(opts.configPath!));
  const kubeletDir = resolve(opts.kubeletDir ?? DEFAULTS.kubeletDir);
  mkdirSync(kubeletDir, { recursive: true });
  const registry = resolve(opts.pluginsRegistry ?? DEFAULTS.pluginsRegistry);
  const deps: RunnerDeps = {
    kubeletDir,
    sysfsRoot: opts.sysfsRoot ?? DEFAULTS.sysfsRoot,
    cdi: new CdiWriter(opts.cdiDir ?? DEFAULTS.cdiDir),
    registrar: opts.registrar ?? grpcRegistrar,
    log,
    ...(isDir(registry) ? { pluginsRegistry: registry } : {}),
    ...(opts.observe ? { observe: opts.observe } : {}),
  };
  const runners = new Map<string, ResourceRunner>();

  const startRunner = async (r: ResourceConfig) => {
    const runner = new ResourceRunner(r, deps);
    runners.set(r.name, runner);
    await runner.start();
  };
  const started = await Promise.allSettled(config.resources.map(startRunner));
  const failure = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) {
    // Leave nothing half-started behind: sockets and CDI specs of the others go too.
    await Promise.all([...runners.values()].map((r) => r.close(true)));
    throw failure.reason;
  }

  const kubeletWatch = watchKubeletDir({
    kubeletDir,
    ownSockets: () => new Set([...runners.values()].map((r) => r.socket)),
    onChange: () => {
      for (const r of runners.values()) void r.resync();
    },
  });

  // Safety net for hosts where the watched dirs emit no events (real sysfs).
  let rescanTimer: NodeJS.Timeout | undefined;
  const armRescan = () => {
    if (rescanTimer) clearInterval(rescanTimer);
    rescanTimer =
      config.rescanIntervalMs > 0
        ? setInterval(() => {
            // Also re-check the kubelet dir: a watch lost with a deleted-and-recreated dir comes back here.
            kubeletWatch.setDirs([kubeletDir, dirname(kubeletDir)]);
            for (const r of runners.values()) {
              void r.rescan();
              void r.resync();
            }
          }, config.rescanIntervalMs)
        : undefined;
    rescanTimer?.unref();
  };
  armRescan();

  const apply = async (next: DeviceResourcesConfig) => {
    const wanted = new Map(next.resources.map((r) => [r.name, r]));
    for (const [name, runner] of [...runners]) {
      if (!wanted.has(name)) {
        runners.delete(name);
        await runner.close(true);
        log.info({ resource: name }, 'resource removed');
      }
    }
    for (const r of next.resources) {
      const runner = runners.get(r.name);
      if (!runner) {
        try {
          await startRunner(r);
          log.info({ resource: r.name }, 'resource added');
        } catch (e) {
          log.error({ resource: r.name, err: errorMessage(e) }, 'resource could not start');
          await runners.get(r.name)?.close(true);
          runners.delete(r.name);
        }
      } else if (JSON.stringify(runner.cfg) !== JSON.stringify(r)) await runner.updateConfig(r);
    }
    config = next;
    armRescan();
  };

  let configWatch: DirWatcher | undefined;
  if (opts.configPath) {
    const path = resolve(opts.configPath);
    let lastText = safeRead(path);
    let reloading = Promise.resolve();
    configWatch = new DirWatcher({
      debounceMs: 50,
      // ConfigMap volumes swap a `..data` symlink rather than touch the file: any event in the dir re-reads it.
      onChange: () => {
        reloading = reloading
          .then(async () => {
            const text = safeRead(path);
            if (text === undefined || text === lastText) return;
            lastText = text;
            let next: DeviceResourcesConfig;
            try {
              next = parseConfigText(text, path);
            } catch (e) {
              log.error({ err: errorMessage(e) }, 'new config rejected; keeping the running one');
              return;
            }
            log.info({ path }, 'config changed');
            await apply(next);
          })
          .catch((e: unknown) => {
            // One resource failing to start must not stop later reloads.
            log.error({ err: errorMessage(e) }, 'applying the new config failed');
          });
      },
    });
    configWatch.setDirs([dirname(path)]);
  }

  let closed = false;
  return {
    async drain() {
      await Promise.all([...runners.values()].map((r) => r.drain()));
    },
    async close() {
      if (closed) return;
      closed = true;
      kubeletWatch.close();
      configWatch?.close();
      if (rescanTimer) clearInterval(rescanTimer);
      await Promise.all([...runners.values()].map((r) => r.close(false)));
      runners.clear();
    },
    devices() {
      return [...runners.values()].flatMap((r) => r.state.list().map((d) => ({ resource: r.cfg.name, id: d.ID, health: d.health })));
    },
    registrations() {
      return Object.fromEntries([...runners.values()].map((r) => [r.cfg.name, r.registrations]));
    },
    endpoints() {
      return [...runners.values()].map((r) => ({
        resource: r.cfg.name,
        socket: r.socketPath,
        ...(r.registrationSocket ? { registrationSocket: r.registrationSocket } : {}),
      }));
    },
  };
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function safeRead(p: string): string | undefined {
  if (!existsSync(p)) return undefined;
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
}
