export { CustomResourceServiceTimeout } from './CustomResourceServiceTimeout';
export { EventPatternSize, EVENT_PATTERN_LIMIT } from './EventPatternSize';
export { IamPolicySize, MANAGED_POLICY_LIMIT, ROLE_INLINE_POLICIES_LIMIT } from './IamPolicySize';
export { KmsKeyServicePrincipals } from './KmsKeyServicePrincipals';
export { LambdaEnvironmentSize, LAMBDA_ENVIRONMENT_LIMIT } from './LambdaEnvironmentSize';
export { RoleCanDecrypt } from './RoleCanDecrypt';
export { SelectSplitInRange } from './SelectSplitInRange';
export { StackQuotas, STACK_QUOTAS, STACK_QUOTA_MARGIN } from './StackQuotas';
export { TaskOutlivesLambda } from './TaskOutlivesLambda';
