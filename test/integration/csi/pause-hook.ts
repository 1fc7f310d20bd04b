// Preloaded (`node --import`) into a driver process under a crash test, never
// into the product: DeleteVolume runs no host tool that a PATH shim could
// stall, so this stalls its file removal instead. When
// $HP_PAUSE_DIR/pause-rm exists and the driver removes a path containing the
// flag file's text, it writes $HP_PAUSE_DIR/paused-rm (the path) and never
// returns — "before" the removal, or "after" it when the flag's second line
// says so — and the test SIGKILLs the driver right then.
import { syncBuiltinESMExports } from 'node:module';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import fsp from 'node:fs/promises';
import { join } from 'node:path';

const dir = process.env.HP_PAUSE_DIR;
if (dir) {
  const realRm = fsp.rm;
  fsp.rm = async function rm(path: Parameters<typeof realRm>[0], opts?: Parameters<typeof realRm>[1]): Promise<void> {
    const flag = join(dir, 'pause-rm');
    if (existsSync(flag)) {
      const [match = '', when = 'before'] = readFileSync(flag, 'utf8').split('\n');
      if (String(path).includes(match)) {
        if (when === 'after') await realRm(path, opts);
        writeFileSync(join(dir, 'paused-rm'), String(path));
        return new Promise<void>(() => {});
      }
    }
    return realRm(path, opts);
  };
  syncBuiltinESMExports();
}
