// A throwaway world for one device-plugin test: kubelet dir, CDI dir, a dir
// of fake device files, a fake sysfs copy and a config file, all under one
// temp dir removed afterwards.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { copySysfs } from '../../support/fake-sysfs.ts';

export interface TestEnv {
  root: string;
  kubeletDir: string;
  cdiDir: string;
  devDir: string;
  sysfs: string;
  configPath: string;
  writeConfig(cfg: unknown): void;
  cleanup(): void;
}

export function makeEnv(): TestEnv {
  const root = mkdtempSync(join(tmpdir(), 'hp-dp-it-'));
  const env: TestEnv = {
    root,
    kubeletDir: join(root, 'device-plugins'),
    cdiDir: join(root, 'cdi'),
    devDir: join(root, 'dev'),
    sysfs: copySysfs(),
    configPath: join(root, 'etc', 'device-plugin.yaml'),
    writeConfig(cfg) {
      // Written aside and renamed, like a ConfigMap update: never read half-written.
      const tmp = `${env.configPath}.tmp`;
      writeFileSync(tmp, stringify(cfg));
      renameSync(tmp, env.configPath);
    },
    cleanup() {
      rmSync(root, { recursive: true, force: true });
      rmSync(env.sysfs, { recursive: true, force: true });
    },
  };
  for (const d of [env.kubeletDir, env.devDir, join(root, 'etc')]) mkdirSync(d, { recursive: true });
  return env;
}
