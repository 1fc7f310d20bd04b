import { describe, it, expect } from 'vitest';
import { apiOrigin, KubeClient } from '../../../../agent/kube/api-client.ts';

describe('node informer', () => {
  it('refuses a plain-http API server (the token would travel in clear text)', () => {
    expect(() => apiOrigin({ apiServer: 'http://10.0.0.1:8080', tokenFile: '/t', caFile: '/c' })).toThrow(/only https:\/\//);
    expect(() => new KubeClient({ apiServer: 'http://10.0.0.1:8080', tokenFile: '/t', caFile: '/c' })).toThrow(/only https:\/\//);
  });
  it('accepts https and talks to its origin only', () => {
    expect(apiOrigin({ apiServer: 'https://10.0.0.1:6443/some/path', tokenFile: '/t', caFile: '/c' }).href).toBe('https://10.0.0.1:6443/');
  });
});
