import { describe, it, expect } from 'vitest';
import { kubeConfigFor } from '../../../../agent/kube/node-informer.ts';

describe('node informer', () => {
  it('refuses a plain-http API server (the token would travel in clear text)', () => {
    expect(() => kubeConfigFor({ apiServer: 'http://10.0.0.1:8080', tokenFile: '/t', caFile: '/c' })).toThrow(/only https:\/\//);
  });
  it('accepts https with the CA and verifies TLS', () => {
    const kc = kubeConfigFor({ apiServer: 'https://10.0.0.1:6443', tokenFile: '/t', caFile: '/c' });
    expect(kc.getCurrentCluster()).toMatchObject({ server: 'https://10.0.0.1:6443', caFile: '/c', skipTLSVerify: false });
  });
});
