/**
 * The local API token: `./scripts/run.sh` makes one the first time (32 random bytes, base64url)
 * under .run/, readable by the owner only, and reuses it afterwards, so curl commands, the CLI and
 * a running console keep working across restarts. Deleting the file makes a new one.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface LocalToken {
  token: string;
  /** True when this call made the file. */
  created: boolean;
}

/** Reads the token at `path`, making the file (mode 0600) when it does not exist. */
export function ensureApiToken(path: string): LocalToken {
  try {
    const token = readFileSync(path, 'utf8').trim();
    if (token.length >= 16) {
      // A copy or an editor may have widened it; the token is a credential.
      if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
      return { token, created: false };
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const token = randomBytes(32).toString('base64url');
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  chmodSync(path, 0o600); // writeFileSync's mode applies only to a file it creates
  return { token, created: true };
}
