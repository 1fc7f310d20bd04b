// The directories host tools (ip, nft, losetup, mount, mkfs) live in. Runtimes
// exec plugins and agents with a minimal PATH that often lacks the sbin ones.
export const SBIN_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'] as const;
