export * from './aws.ts';
export * from './config.ts';
export * from './errors.ts';
export * from './logger.ts';
export * from './resources.ts';
export * from './event-store.ts';
export * from './retry.ts';
export * from './service.ts';
