// The node's PKI, made with openssl: a cluster CA, a front-proxy CA (without
// it and the --requestheader-* flags every component logs "missing content
// for CA bundle ... requestheader-client-ca-file"), serving and client
// certificates, the service-account key pair, and one kubeconfig per client.
// P-256 keys: a whole PKI in well under a second on two busy cores.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { DIR, NODE, NODE_IP, API_PORT } from './layout.ts';

const p = (name: string) => join(DIR.pki, name);
const ssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });

function key(name: string): void {
  ssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', p(`${name}.key`)]);
}

function ca(name: string, cn: string): void {
  key(name);
  ssl(['req', '-x509', '-new', '-key', p(`${name}.key`), '-subj', `/CN=${cn}`, '-days', '7', '-out', p(`${name}.crt`)]);
}

function leaf(name: string, signer: string, subject: string, usage: 'clientAuth' | 'serverAuth', sans: string[] = []): void {
  key(name);
  ssl([
    'req',
    '-x509',
    '-new',
    '-key',
    p(`${name}.key`),
    '-subj',
    subject,
    '-CA',
    p(`${signer}.crt`),
    '-CAkey',
    p(`${signer}.key`),
    '-days',
    '7',
    '-addext',
    'basicConstraints=critical,CA:FALSE',
    '-addext',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    '-addext',
    `extendedKeyUsage=${usage}`,
    ...(sans.length ? ['-addext', `subjectAltName=${sans.join(',')}`] : []),
    '-out',
    p(`${name}.crt`),
  ]);
}

export const APISERVER_URL = `https://127.0.0.1:${API_PORT}`;

function kubeconfig(name: string, user: string): void {
  writeFileSync(
    p(`${name}.kubeconfig`),
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: e2e`,
      `  cluster: { server: "${APISERVER_URL}", certificate-authority: "${p('ca.crt')}" }`,
      'users:',
      `- name: ${user}`,
      `  user: { client-certificate: "${p(`${name}.crt`)}", client-key: "${p(`${name}.key`)}" }`,
      'contexts:',
      `- name: e2e`,
      `  context: { cluster: e2e, user: ${user} }`,
      'current-context: e2e',
      '',
    ].join('\n'),
  );
}

/** Makes the whole PKI unless it is already there (a warm restart keeps it). */
export function makePki(): void {
  if (existsSync(p('done'))) return;
  mkdirSync(DIR.pki, { recursive: true });
  ca('ca', 'hostplane-e2e-ca');
  ca('front-proxy-ca', 'hostplane-e2e-front-proxy-ca');
  leaf('apiserver', 'ca', '/CN=kube-apiserver', 'serverAuth', [
    'IP:127.0.0.1',
    `IP:${NODE_IP}`,
    'IP:10.96.0.1',
    'DNS:localhost',
    'DNS:kubernetes',
    'DNS:kubernetes.default',
    'DNS:kubernetes.default.svc',
    'DNS:kubernetes.default.svc.cluster.local',
  ]);
  leaf('kubelet-serving', 'ca', `/CN=${NODE}`, 'serverAuth', [`IP:${NODE_IP}`, `DNS:${NODE}`]);
  leaf('admin', 'ca', '/O=system:masters/CN=admin', 'clientAuth');
  leaf('controller-manager', 'ca', '/CN=system:kube-controller-manager', 'clientAuth');
  leaf('scheduler', 'ca', '/CN=system:kube-scheduler', 'clientAuth');
  leaf('kubelet', 'ca', `/O=system:nodes/CN=system:node:${NODE}`, 'clientAuth');
  leaf('apiserver-kubelet-client', 'ca', '/O=system:masters/CN=kube-apiserver-kubelet-client', 'clientAuth');
  leaf('front-proxy-client', 'front-proxy-ca', '/CN=front-proxy-client', 'clientAuth');
  key('sa');
  ssl(['ec', '-in', p('sa.key'), '-pubout', '-out', p('sa.pub')]);
  kubeconfig('admin', 'admin');
  kubeconfig('controller-manager', 'system:kube-controller-manager');
  kubeconfig('scheduler', 'system:kube-scheduler');
  kubeconfig('kubelet', `system:node:${NODE}`);
  writeFileSync(p('done'), '');
}

export const pki = p;
