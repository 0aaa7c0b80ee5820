/** The traffic-control core: one implementation used by the Lambda handlers and the CLI. */
export * from './clients';
export * from './context';
export * from './dynamo-items';
export * from './errors';
export * from './ledger';
export * from './lock';
export * from './logger';
export * from './release';
export * from './retry';
export * from './scale';
export * from './shift';
export * from './stable';
export * from './state';
export * from './weights';
