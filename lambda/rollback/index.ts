/** The automated rollback: event validation, core, marker, notifications and metrics. */
export * from './core';
export * from './errors';
export * from './event';
export * from './marker';
export * from './metrics';
export * from './notify';
