/** Construct IDs from config keys: the same PascalCase as stage names (config/names.ts). */
export { pascalCase } from '../config/names';
