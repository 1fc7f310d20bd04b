import { describe, it, expect } from 'vitest';
import { parseCommand, parseRequest, parseCniArgs } from '../../../cni/request.ts';
import { CniError, toCniError, errorJson } from '../../../cni/errors.ts';
import { ExecError } from '../../../lib/exec.ts';

const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'abc', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin' };
const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as CniError).code;
  }
  return 0;
};

describe('request: environment', () => {
  it('parses a complete ADD', () => {
    expect(parseRequest('ADD', env)).toMatchObject({ containerId: 'abc', netns: '/run/netns/x', ifname: 'eth0', path: ['/opt/cni/bin'] });
  });
  it.each([
    ['missing CNI_COMMAND', () => parseCommand({})],
    ['unknown CNI_COMMAND', () => parseCommand({ CNI_COMMAND: 'FOO' })],
    ['missing CNI_CONTAINERID', () => parseRequest('ADD', { ...env, CNI_CONTAINERID: '' })],
    ['bad CNI_CONTAINERID', () => parseRequest('ADD', { ...env, CNI_CONTAINERID: 'a/b' })],
    ['missing CNI_NETNS on ADD', () => parseRequest('ADD', { ...env, CNI_NETNS: '' })],
    ['relative CNI_NETNS', () => parseRequest('ADD', { ...env, CNI_NETNS: 'netns/x' })],
    ['missing CNI_IFNAME', () => parseRequest('ADD', { ...env, CNI_IFNAME: '' })],
    ['CNI_IFNAME over 15 bytes', () => parseRequest('ADD', { ...env, CNI_IFNAME: 'eth0123456789012' })],
    ['missing CNI_PATH', () => parseRequest('STATUS', { CNI_COMMAND: 'STATUS' })],
  ])('%s → code 4', (_n, f) => expect(code(f)).toBe(4));
  it('DEL does not need CNI_NETNS (the sandbox may be gone)', () => {
    expect(parseRequest('DEL', { ...env, CNI_NETNS: '' }).netns).toBe('');
  });
});

describe('request: CNI_ARGS', () => {
  it('reads the Kubernetes keys', () => {
    expect(parseCniArgs('IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_INFRA_CONTAINER_ID=c;K8S_POD_UID=u')).toMatchObject({
      podNamespace: 'ns',
      podName: 'p',
      infraContainerId: 'c',
      podUid: 'u',
    });
  });
  it('unknown keys are refused unless IgnoreUnknown is set', () => {
    expect(code(() => parseCniArgs('FOO=1'))).toBe(4);
    expect(parseCniArgs('IgnoreUnknown=true;FOO=1').ips).toEqual([]);
  });
  it('IP= and MAC= request an address and a MAC', () => {
    const a = parseCniArgs('IP=10.0.0.7,fd00::7;MAC=0A:58:00:00:00:07');
    expect(a.ips.map((i) => i.family)).toEqual([4, 6]);
    expect(a.mac).toBe('0a:58:00:00:00:07');
    expect(code(() => parseCniArgs('IP=nope'))).toBe(4);
  });
});

describe('errors', () => {
  it('the spec error JSON carries version, code, msg and details', () => {
    expect(errorJson(new CniError(7, 'bad', 'why'), '1.0.0')).toEqual({ cniVersion: '1.0.0', code: 7, msg: 'bad', details: 'why' });
    expect(errorJson(new CniError(3, 'gone'), '1.1.0')).toEqual({ cniVersion: '1.1.0', code: 3, msg: 'gone' });
  });
  it('host tool and file-system failures are I/O errors (5); anything else is internal (999)', () => {
    expect(toCniError(new ExecError('ip', ['x'], 2, 'RTNETLINK answers: boom')).code).toBe(5);
    expect(toCniError(Object.assign(new Error('EACCES'), { code: 'EACCES' })).code).toBe(5);
    expect(toCniError(new Error('?')).code).toBe(999);
  });
});
