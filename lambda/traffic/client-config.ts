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
  /** Bounds of one attempt of every call. @default - TRAFFIC_REQUEST_BOUNDS */
  readonly requestBounds?: RequestBounds;
}

/**
 * Bounds of one AWS call attempt (@smithy/node-http-handler options). In @smithy/node-http-handler 4.x the
 * `requestTimeout` timer runs from the start of the request (connecting included) until the response headers arrive;
 * reading the body after them is bounded only by `socketTimeout` (inactivity of the socket), so both are set.
 */
export interface RequestBounds {
  /** Milliseconds to establish the connection (within requestTimeout). */
  readonly connectionTimeout: number;
  /** Milliseconds from the start of the request to the response headers. */
  readonly requestTimeout: number;
  /** Milliseconds the socket may stay silent (it also bounds a stalled response body). */
  readonly socketTimeout: number;
}

/**
 * Every traffic-core call (rollback, release, switch, CLI): a stalled connection or response must not eat the whole
 * invocation with no metric and no notification (the SDK's default has no request timeout). One attempt is bounded by
 * requestTimeout + socketTimeout = 4 s (headers within 2 s, then a body that stalls for 2 s at most); the core's retry
 * policy retries a timed-out attempt (TimeoutError is transient). The rollback's worst-case time to traffic safe is
 * computed from these (lambda/rollback/budget.ts). The control-plane calls on that path (DescribeRules, ModifyRule,
 * DescribeServices, DescribeTargetHealth, DynamoDB GetItem/Query) answer in well under a second.
 */
export const TRAFFIC_REQUEST_BOUNDS: RequestBounds = { connectionTimeout: 1_000, requestTimeout: 2_000, socketTimeout: 2_000 };

/** The longest one attempt can take under `bounds`: the headers (connecting included), then a stalled body. */
export function attemptBoundMs(bounds: RequestBounds = TRAFFIC_REQUEST_BOUNDS): number {
  return bounds.requestTimeout + bounds.socketTimeout;
}

/** SDK client config shared by every client (also used by the CLI for its CloudFormation client). */
export function clientConfig(options: ClientOptions = {}) {
  return {
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : options.profile ? { profile: options.profile } : {}),
    maxAttempts: options.maxAttempts ?? 1,
    // Without throwOnRequestTimeout a request past requestTimeout only logs a warning and keeps waiting.
    requestHandler: { ...(options.requestBounds ?? TRAFFIC_REQUEST_BOUNDS), throwOnRequestTimeout: true },
  };
}

