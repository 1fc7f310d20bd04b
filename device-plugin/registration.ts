// The plugin's side of kubelet's Registration service on kubelet.sock.
// kubelet dials our socket back inside Register (GetDevicePluginOptions,
// then ListAndWatch), so our server must already be listening.
import * as grpc from '@grpc/grpc-js';
import { loadProto, lookup } from '../lib/grpc/proto.ts';
import { PLUGIN_OPTIONS } from './server.ts';

export const API_VERSION = 'v1beta1';

export interface RegisterArgs {
  kubeletSocket: string;
  /** Socket file name relative to the device-plugins dir. */
  endpoint: string;
  resourceName: string;
  timeoutMs?: number;
}

export interface Registrar {
  register(args: RegisterArgs): Promise<void>;
}

export const grpcRegistrar: Registrar = {
  register(args) {
    const Client = lookup<grpc.ServiceClientConstructor>(loadProto('deviceplugin/v1beta1/api.proto'), 'v1beta1.Registration');
    const client = new Client(`unix://${args.kubeletSocket}`, grpc.credentials.createInsecure());
    const deadline = new Date(Date.now() + (args.timeoutMs ?? 10_000));
    return new Promise<void>((resolve, reject) => {
      client.Register!(
        { version: API_VERSION, endpoint: args.endpoint, resource_name: args.resourceName, options: PLUGIN_OPTIONS },
        { deadline },
        (err: grpc.ServiceError | null) => {
          client.close();
          if (err) reject(new Error(`Register ${args.resourceName} with ${args.kubeletSocket}: ${err.details || err.message}`));
          else resolve();
        },
      );
    });
  },
};
