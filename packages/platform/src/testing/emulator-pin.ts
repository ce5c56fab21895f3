/**
 * The emulator version the project pins (scripts/emulator-requirements.txt): the one reader of the
 * pin in TypeScript, for the Testcontainers module, the conformance check and the compose files.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const REQUIREMENTS = fileURLToPath(new URL('../../../../scripts/emulator-requirements.txt', import.meta.url));

export function pinnedEmulatorVersion(): string {
  const match = /^ministack==(\S+)$/m.exec(readFileSync(REQUIREMENTS, 'utf8'));
  if (!match?.[1]) throw new Error('scripts/emulator-requirements.txt pins no ministack version');
  return match[1];
}
