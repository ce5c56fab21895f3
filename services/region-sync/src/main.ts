/** Wiring only: configuration, logger, HTTP server (GET /health) and graceful shutdown. */
import { startService } from '@flotilla/platform';
import { config } from './config.ts';

await startService({ name: 'region-sync', config });
