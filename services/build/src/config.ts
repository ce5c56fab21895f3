/** This service's environment, parsed once at start; process.env is read nowhere else. */
import { parseEnv, platformEnvShape } from '@flotilla/platform';

export const config = parseEnv({ ...platformEnvShape }, process.env);
export type Config = typeof config;
