// The agent's CNI server: the executable (cni/main.ts) forwards each request
// here over a unix socket and prints the answer, so a pod's ADD costs one
// small client start plus warm work in this process instead of a runtime
// start, module loading and an `ip` exec per step.
//
// Who may call: the socket is 0600 in a 0700 directory, both owned by root,
// so connect(2) itself refuses any other uid (Node exposes no SO_PEERCRED).
// What a request may touch: netns paths under netnsDirs and IPAM data under
// ipamDirs only; anything else (and delegated IPAM plugins) is declined, and
// the executable then does it in-process as root, exactly as without an agent.
//
// The commands are cni/'s own (dispatch): the same validation and the same
// error codes as the executable, with three agent seams: the persistent `ip`
// channel (host ops of concurrent requests share one process), a bounded exec
// for the rest, and the background teardown queue for DEL.
import { createServer, createConnection, type Server, type Socket } from 'node:net';
import { mkdirSync, chmodSync, statSync, unlinkSync, lstatSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Logger } from '../../lib/logging.ts';
import { errorMessage, isNotFound } from '../../lib/errors.ts';
import type { HostExec } from '../../lib/exec.ts';
import { SpawnExec } from '../../cni/spawn-exec.ts';
import { LimitedExec } from '../../lib/limited-exec.ts';
import { dispatch } from '../../cni/dispatch.ts';
import type { NetConf, HostplaneIpam } from '../../cni/config.ts';
import type { CniRequest } from '../../cni/request.ts';
import { RealHostView } from '../../cni/net/host-view.ts';
import { IpChannel } from '../../cni/net/ip-channel.ts';
import { NetnsRunner } from '../../cni/net/netns-runner.ts';
import { TeardownQueue } from '../../cni/teardown.ts';
import { decodeRequest, MAX_REQUEST_BYTES, PROTOCOL_VERSION, VERSION_KEY } from '../../cni/agent/protocol.ts';

export interface CniServerOptions {
  socket: string;
  /** Directories a request's CNI_NETNS may be in. */
  netnsDirs: string[];
  /** Directories a request's ipam.dataDir may be (or be under). Teardowns left by a killed agent are recovered from here. */
  ipamDirs: string[];
  /** Most host tools (`ip` in a pod netns, `nft`) run at once. */
  maxExecs: number;
  /** The bun-compiled executable, run as the netns helper (in-netns ops over netlink, no exec); without it they use `ip`. */
  netnsHelper?: string;
  log: Logger;
  exec?: HostExec;
  /** One call per answered request (metrics). */
  observe?: (command: string, result: string, seconds: number) => void;
  onTeardown?: (ok: boolean) => void;
}

export interface CniServer {
  socket: string;
  bootId: string;
  teardown: TeardownQueue;
  /** Networks served so far with their IPAM config (metrics: pool usage). */
  networks(): ReadonlyMap<string, { network: string; ipam: HostplaneIpam }>;
  /** Requests being served now. */
  inFlight(): number;
  close(): Promise<void>;
}

/** The boot id never changes while the agent runs: read /proc once. */
class AgentHostView extends RealHostView {
  private boot: string | undefined;
  override bootId(): string {
    this.boot ??= super.bootId();
    return this.boot;
  }
}

function within(path: string, dirs: readonly string[]): boolean {
  const p = resolve(path);
  return dirs.some((d) => {
    const dir = resolve(d);
    return p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
  });
}

/**
 * The socket's directory: created 0700 when absent. An existing one (a
 * hostPath volume makes it 0755) must be ours and not writable by others, who
 * could otherwise swap the socket for their own.
 */
function prepareDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = statSync(dir);
  const uid = process.getuid?.() ?? 0;
  if (st.uid !== uid) throw new Error(`cni server: ${dir} is owned by uid ${st.uid}, not ${uid}`);
  if (st.mode & 0o022) throw new Error(`cni server: ${dir} is writable by group or others (mode ${(st.mode & 0o777).toString(8)})`);
}

/** Whether something accepts connections on the socket (within a short bound). */
function answers(path: string): Promise<boolean> {
  return new Promise((res) => {
    const c = createConnection(path);
    const done = (v: boolean) => {
      c.destroy();
      res(v);
    };
    c.once('connect', () => done(true));
    c.once('error', () => done(false));
    setTimeout(() => done(false), 500).unref();
  });
}

export async function startCniServer(opts: CniServerOptions): Promise<CniServer> {
  const { log } = opts;
  const view = new AgentHostView();
  // The executable's node:child_process HostExec, not execa's RealExec: on the
  // ADD path each exec is on the pod's critical path, and measured here one
  // `ip` call costs 4–7 ms through spawn against 13–25 ms through execa.
  const exec = new LimitedExec(opts.exec ?? new SpawnExec(), opts.maxExecs);
  // Link work: the netns helper over netlink when it runs; else the persistent
  // `ip -batch` channel (host) and bounded `ip -n` execs (pod netns).
  const channel = new IpChannel(exec);
  const netnsRunner = opts.netnsHelper ? new NetnsRunner({ binary: opts.netnsHelper, fallback: channel, log }) : undefined;
  const ip = netnsRunner ?? channel;
  const teardown = new TeardownQueue({ ip, exec, view, log, ...(opts.onTeardown ? { onDone: opts.onTeardown } : {}) });
  const networks = new Map<string, { network: string; ipam: HostplaneIpam }>();
  let inFlight = 0;

  const recovered = teardown.recover(opts.ipamDirs);
  if (recovered) log.info({ recovered }, 'finishing teardowns a previous agent left');

  const gate = (req: CniRequest, conf: NetConf): string | undefined => {
    if (conf.ipam?.kind === 'delegate') return `delegated IPAM plugin "${conf.ipam.type}" runs in the executable`;
    if (req.netns && !within(req.netns, opts.netnsDirs)) return `netns ${req.netns} is outside ${opts.netnsDirs.join(', ')}`;
    if (conf.ipam?.kind === 'builtin') {
      const ipam = conf.ipam;
      if (!within(ipam.dataDir, opts.ipamDirs)) return `ipam.dataDir ${ipam.dataDir} is outside ${opts.ipamDirs.join(', ')}`;
      networks.set(`${ipam.dataDir}\u0000${conf.name}`, { network: conf.name, ipam });
    }
    return undefined;
  };

  const serve = async (line: string, sock: Socket): Promise<void> => {
    const started = process.hrtime.bigint();
    const decoded = decodeRequest(line);
    if (!decoded.ok) {
      sock.end(`${JSON.stringify({ [VERSION_KEY]: PROTOCOL_VERSION, decline: decoded.why })}\n`);
      log.warn({ why: decoded.why }, 'cni request declined');
      return;
    }
    // Acknowledge before any work: from here the client waits for the answer
    // instead of falling back (which would race this very request). The work
    // starts on the next turn of the event loop, so that the acks of every
    // request already received go out first (a burst of 50 ADDs must not make
    // the 50th client wait for 49 requests' synchronous parts), and so that a
    // client that gave up meanwhile (its FIN arrived with its request) is seen
    // and its request dropped: it is doing the work in-process.
    sock.write(`${JSON.stringify({ [VERSION_KEY]: PROTOCOL_VERSION, ack: true })}\n`);
    await new Promise<void>((r) => setImmediate(r));
    if (sock.readableEnded || sock.destroyed) {
      log.warn(
        { cmd: decoded.value.env.CNI_COMMAND, containerId: decoded.value.env.CNI_CONTAINERID },
        'cni client gave up before its request started; dropped',
      );
      return;
    }
    const { env, stdin } = decoded.value;
    const command = env.CNI_COMMAND ?? '';
    // Same veth name: an ADD (or CHECK) waits for the teardown of a DEL of the same attachment.
    if ((command === 'ADD' || command === 'CHECK') && env.CNI_CONTAINERID && env.CNI_IFNAME) {
      await teardown.settled(env.CNI_CONTAINERID, env.CNI_IFNAME);
    }
    const lines: string[] = [];
    let fields: Record<string, unknown> = {};
    inFlight++;
    let reply: Awaited<ReturnType<typeof dispatch>>;
    try {
      reply = await dispatch(env, Buffer.from(stdin, 'utf8'), () => ({ exec, view, env, ip, teardown }), {
        logSink: (l) => lines.push(l),
        gate,
        onParsed: (req, conf) => {
          fields = {
            network: conf.name,
            containerId: req.containerId || undefined,
            ifname: req.ifname || undefined,
            pod: req.args.podName ? `${req.args.podNamespace ?? ''}/${req.args.podName}` : undefined,
          };
        },
      });
    } finally {
      inFlight--;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const ms = Math.round(seconds * 10_000) / 10;
    if (reply.decline !== undefined) {
      sock.end(`${JSON.stringify({ [VERSION_KEY]: PROTOCOL_VERSION, decline: reply.decline })}\n`);
      log.info({ cmd: command, ...fields, ms, why: reply.decline }, 'cni request declined');
      opts.observe?.(command || 'unknown', 'declined', seconds);
      return;
    }
    const code = reply.exitCode === 0 ? 0 : ((reply.stdout as { code?: number } | undefined)?.code ?? 999);
    sock.end(`${JSON.stringify({ [VERSION_KEY]: PROTOCOL_VERSION, stdout: reply.stdout, exitCode: reply.exitCode, log: lines })}\n`);
    const result = code === 0 ? 'ok' : `error_${code}`;
    // One line per request (STATUS only when it fails: runtimes poll it every few seconds).
    if (command !== 'STATUS' || code !== 0) {
      const msg = (reply.stdout as { msg?: string } | undefined)?.msg;
      (code === 0 ? log.info.bind(log) : log.warn.bind(log))({ cmd: command, ...fields, ms, result, ...(code ? { code, err: msg } : {}) }, 'cni request');
    }
    opts.observe?.(command || 'unknown', result, seconds);
  };

  /** Connections that have not sent a full request yet. */
  const sockets = new Set<Socket>();
  const onConnection = (sock: Socket): void => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    let buf = '';
    let taken = false;
    sock.setEncoding('utf8');
    sock.on('error', () => {
      /* the client went away; nothing to answer */
    });
    sock.on('data', (d: string) => {
      if (taken) return;
      buf += d;
      if (buf.length > MAX_REQUEST_BYTES) {
        taken = true;
        sock.end(`${JSON.stringify({ [VERSION_KEY]: PROTOCOL_VERSION, decline: 'request too large' })}\n`);
        return;
      }
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      taken = true;
      sockets.delete(sock);
      serve(buf.slice(0, nl), sock).catch((e: unknown) => {
        // dispatch turns every command failure into a CNI error reply; this is a bug in the server itself.
        log.error({ err: errorMessage(e) }, 'cni server failed a request');
        sock.destroy();
      });
    });
  };

  prepareDir(dirname(opts.socket));
  try {
    if (!lstatSync(opts.socket).isSocket()) throw new Error(`cni server: ${opts.socket} exists and is not a socket`);
    // A live agent still answers there (two agents on one node): taking its socket would orphan it.
    if (await answers(opts.socket)) throw new Error(`cni server: another process is serving ${opts.socket}`);
    // A socket left by a killed agent: nobody listens on it any more.
    unlinkSync(opts.socket);
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  const server: Server = createServer(onConnection);
  // The socket is born 0600 (no window in which another uid could connect).
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((res, rej) => {
      server.once('error', rej);
      server.listen(opts.socket, () => {
        server.off('error', rej);
        res();
      });
    });
  } finally {
    process.umask(umask);
  }
  chmodSync(opts.socket, 0o600);
  log.info({ socket: opts.socket, netnsDirs: opts.netnsDirs, ipamDirs: opts.ipamDirs, maxExecs: opts.maxExecs }, 'cni server listening');

  return {
    socket: opts.socket,
    bootId: view.bootId(),
    teardown,
    networks: () => networks,
    inFlight: () => inFlight,
    close: async () => {
      // Stop accepting; requests in flight finish (their clients are waiting);
      // a connection that never sent a request is dropped after a grace period.
      const closed = new Promise<void>((res) => server.close(() => res()));
      const grace = setTimeout(() => {
        for (const s of sockets) s.destroy();
      }, 5000);
      await closed;
      clearTimeout(grace);
      teardown.stop();
      channel.close();
      netnsRunner?.close();
      try {
        unlinkSync(opts.socket);
      } catch {
        /* already gone */
      }
    },
  };
}
