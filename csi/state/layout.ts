// The data dir's layout, owned here and nowhere else:
//   <data-dir>/images/<volume-id>.img      sparse volume images
//   <data-dir>/snapshots/<snapshot-id>.img snapshot copies
//   <data-dir>/state/{volumes,snapshots}/  one record per volume / snapshot (store.ts)
//   <data-dir>/spares/<fs>-<bytes>-<n>.img pre-formatted images CreateVolume takes (volumes/spares.ts)
import { join } from 'node:path';

export const imagesDir = (dataDir: string) => join(dataDir, 'images');
export const snapshotsDir = (dataDir: string) => join(dataDir, 'snapshots');
export const stateDir = (dataDir: string) => join(dataDir, 'state');
export const sparesDir = (dataDir: string) => join(dataDir, 'spares');
/** Every directory the driver creates at start-up (mode 0700). */
export const dataDirs = (dataDir: string) => [imagesDir(dataDir), snapshotsDir(dataDir), stateDir(dataDir), sparesDir(dataDir)];

export const imageFile = (dataDir: string, volumeId: string) => join(imagesDir(dataDir), `${volumeId}.img`);
export const snapshotFile = (dataDir: string, snapshotId: string) => join(snapshotsDir(dataDir), `${snapshotId}.img`);
