/**
 * Stands in for `@aws-sdk/credential-provider-node` in Lambda bundles only (see lib/handler-function.ts):
 * the Lambda runtime passes the execution role's credentials as environment variables, so the rest of
 * the default chain is dead weight in the bundle and in cold starts.
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';

export const defaultProvider = () => fromEnv();
