// The Node/V8 flags every long-running hostplane process starts with: the
// dist/hostplane launcher (scripts/build.ts) and the image's entrypoint
// (daemonset/image/build.ts; the Containerfile copies them, a unit test holds
// it to them) take them from here.
//
// The agent is a small, steady daemon: most of its life it waits on sockets,
// with a live heap of ~10-20 MB. Node's defaults are sized for servers that
// allocate fast on many cores. Measured on the agent (local config, idle):
//   --max-semi-space-size=1     the young generation grows to 2 x 16 MB semi-spaces
//                               under any allocation burst and keeps them; 1 MB
//                               each costs a few more scavenges (each ~0.1 ms
//                               here) and saved ~6 MiB resident
//   --v8-pool-size=1            V8's background worker threads (default: one per
//   --single-threaded-gc        core, up to 4): their stacks and marking buffers;
//                               together ~2-4 MiB
//   --max-old-space-size=256    a guard, not a budget: a leak ends in V8's clear
//                               "heap out of memory" well below the container's
//                               512Mi limit, instead of a silent cgroup OOM kill
// Not taken: --jitless / --lite-mode (another ~10 MiB, mostly the optimizing
// compilers' code pages, but every JSON parse and protobuf decode runs
// interpreted, and WebAssembly is off); --enable-source-maps (the bundle ships
// no source map, so it only cost a stack-trace hook).
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--v8-pool-size=1', '--single-threaded-gc', '--max-old-space-size=256'];
