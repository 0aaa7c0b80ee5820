/** Values every environment shares unless its own file says otherwise. */
export const REGION = 'us-east-1';

/** Images come from ECR repositories of these names in each environment's account. */
export const REPOSITORIES = { frontend: 'ecommerce-frontend', backend: 'ecommerce-backend' } as const;

/** Placeholder hosted zone of example.com; replace with your zone's ID to deploy (README, "Deploying"). */
export const EXAMPLE_HOSTED_ZONE = { zoneId: 'Z0000000000EXAMPLE', zoneName: 'example.com' } as const;

/** Where the pre-traffic test listener may be reached from: replace with your office or VPN CIDR. */
export const OPERATOR_CIDR = '203.0.113.0/24';

export const POSTGRES_VERSION = '17.9';
export const VALKEY_VERSION = '7.2';
