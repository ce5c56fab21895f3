export * from './aws.ts';
export * from './config.ts';
export * from './errors.ts';
export * from './logger.ts';
export * from './resources.ts';
