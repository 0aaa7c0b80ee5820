/** The single structured-JSON logger of the traffic core, its Lambda handlers and the CLI. */
import { Logger } from '@aws-lambda-powertools/logger';

export const logger = new Logger({ serviceName: 'traffic-control' });
