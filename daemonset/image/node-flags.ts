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
//   --no-turbofan --no-maglev   JavaScript runs on the interpreter and the
//                               Sparkplug baseline compiler only. The optimizing
//                               compilers' own machine code (~8 MiB of the runtime's
//                               pages), their compile-time zones and the optimized
//                               code they leave cost the CSI driver 121 -> 95 MiB
//                               under load and 97 -> 79 MiB idle afterwards, for no
//                               measurable speed: the hot paths wait on the kernel,
//                               host tools and sockets (300 mixed volume lifecycles:
//                               16.3 s with, 16.1 s without). (--no-turbofan alone
//                               was worse: Maglev then compiles more.)
//   --memory-saver-mode         V8's memory saver (what Chrome uses for background
//                               tabs): tighter heap limits and earlier full GCs.
//                               Without it an idle agent's old generation kept
//                               growing between the rare full GCs: 80 -> 85 MiB
//                               over two idle minutes (routing + fake API), where
//                               it now holds 74-77 MiB; the CSI driver under load
//                               95 -> 85 MiB; same lifecycle throughput (300 mixed:
//                               12.4 s vs 12.5 s)
// Not taken: --jitless (interpreter only, -1 MiB more, but WebAssembly is off);
// --enable-source-maps (the bundle ships no source map, so it only cost a
// stack-trace hook).
export const NODE_FLAGS: readonly string[] = [
  '--max-semi-space-size=1',
  '--v8-pool-size=1',
  '--single-threaded-gc',
  '--max-old-space-size=256',
  '--no-turbofan',
  '--no-maglev',
  '--memory-saver-mode',
];
