// Loads our own .proto definitions (proto/) at run time. In the source tree
// they sit at <repo>/proto; in the bundle, at dist/proto beside hostplane.mjs.
import * as protoLoader from '@grpc/proto-loader';
import * as grpc from '@grpc/grpc-js';
import { existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { createRequire } from 'node:module';

export function protoDir(): string {
  const candidates = [process.env.HOSTPLANE_PROTO_DIR, join(import.meta.dirname, 'proto'), join(import.meta.dirname, '..', '..', 'proto')].filter(
    (p): p is string => !!p,
  );
  for (const c of candidates) if (existsSync(join(c, 'pluginregistration'))) return c;
  throw new Error(`proto definitions not found (looked in ${candidates.join(', ')})`);
}

/** Directory holding google/protobuf/*.proto: shipped copy first, protobufjs's own otherwise. */
function googleIncludeDir(dir: string): string {
  if (existsSync(join(dir, 'google', 'protobuf', 'descriptor.proto'))) return dir;
  const req = createRequire(import.meta.url);
  return dirname(req.resolve('protobufjs/package.json'));
}

const cache = new Map<string, grpc.GrpcObject>();

/** Load one proto file (relative to proto/) into a grpc-js package object. */
export function loadProto(file: string): grpc.GrpcObject {
  const hit = cache.get(file);
  if (hit) return hit;
  const dir = protoDir();
  const def = protoLoader.loadSync(join(dir, file), {
    includeDirs: [dir, googleIncludeDir(dir)],
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const obj = grpc.loadPackageDefinition(def);
  cache.set(file, obj);
  return obj;
}

/** Walk a dotted name (`csi.v1.Identity`) inside a loaded package. */
export function lookup<T>(pkg: grpc.GrpcObject, dotted: string): T {
  let cur: unknown = pkg;
  for (const part of dotted.split('.')) {
    cur = (cur as Record<string, unknown> | undefined)?.[part];
    if (cur === undefined) throw new Error(`${dotted} not found in loaded proto`);
  }
  return cur as T;
}
