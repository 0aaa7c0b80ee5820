/**
 * How every SDK client is configured: the one place, used by every client factory (lambda/traffic/clients.ts,
 * notification-clients.ts, the custom resources, the release backup step) and by the CLI for its own clients.
 * Imports no SDK package, so a handler that only needs the configuration bundles no client it does not construct.
 */
export interface ClientOptions {
  readonly region?: string;
  /** Custom endpoint for every client (a local moto server in tests). */
  readonly endpoint?: string;
  readonly credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Shared-config profile (CLI --profile). Ignored when explicit credentials are given. */
  readonly profile?: string;
  /**
   * SDK-level attempts per call. Defaults to 1: the core's own retry policy (lambda/traffic/retry.ts) decides what is
   * retried, with backoff and jitter, so retries are not multiplied by the SDK's.
   */
  readonly maxAttempts?: number;
}

/** SDK client config shared by every client (also used by the CLI for its CloudFormation client). */
export function clientConfig(options: ClientOptions = {}) {
  return {
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : options.profile ? { profile: options.profile } : {}),
    maxAttempts: options.maxAttempts ?? 1,
  };
}

