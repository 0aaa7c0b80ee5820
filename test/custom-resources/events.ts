/**
 * CloudFormation custom resource events for the tests in this folder. Properties are written the way
 * CloudFormation delivers them: every scalar is a STRING (Priority "10", InitialWeights {blue: "100"}).
 */
import type {
  CloudFormationCustomResourceCreateEvent,
  CloudFormationCustomResourceDeleteEvent,
  CloudFormationCustomResourceUpdateEvent,
} from 'aws-lambda';

// The SDK's Node 20 end-of-support notice is noise in test output (set before any client is created).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export type Props = Record<string, unknown>;

export const SERVICE_TOKEN = 'arn:aws:lambda:us-east-1:123456789012:function:traffic-resources';
export const STACK_ID = 'arn:aws:cloudformation:us-east-1:123456789012:stack/dev-stateless/0f1e2d3c';
export const RESPONSE_URL = 'https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/presigned?X-Amz-Signature=abc';

const base = (resourceType: string, logicalId: string, requestId: string) => ({
  ServiceToken: SERVICE_TOKEN,
  ResponseURL: RESPONSE_URL,
  StackId: STACK_ID,
  RequestId: requestId,
  LogicalResourceId: logicalId,
  ResourceType: resourceType,
});

export function createEvent(resourceType: string, props: Props, logicalId = 'Resource', requestId = 'req-create-1'): CloudFormationCustomResourceCreateEvent {
  return { ...base(resourceType, logicalId, requestId), RequestType: 'Create', ResourceProperties: { ServiceToken: SERVICE_TOKEN, ...props } };
}

export function updateEvent(
  resourceType: string,
  physicalResourceId: string,
  props: Props,
  oldProps: Props,
  logicalId = 'Resource',
  requestId = 'req-update-1',
): CloudFormationCustomResourceUpdateEvent {
  return {
    ...base(resourceType, logicalId, requestId),
    RequestType: 'Update',
    PhysicalResourceId: physicalResourceId,
    ResourceProperties: { ServiceToken: SERVICE_TOKEN, ...props },
    OldResourceProperties: { ServiceToken: SERVICE_TOKEN, ...oldProps },
  };
}

export function deleteEvent(
  resourceType: string,
  physicalResourceId: string,
  props: Props,
  logicalId = 'Resource',
  requestId = 'req-delete-1',
): CloudFormationCustomResourceDeleteEvent {
  return {
    ...base(resourceType, logicalId, requestId),
    RequestType: 'Delete',
    PhysicalResourceId: physicalResourceId,
    ResourceProperties: { ServiceToken: SERVICE_TOKEN, ...props },
  };
}

/** Custom::WeightedListenerRule properties as CloudFormation passes them (lib/routing.ts). */
export function ruleProps(o: {
  listenerArn: string;
  blueTg: string;
  greenTg: string;
  priority?: string;
  host?: string;
  initialWeights?: Record<string, unknown>;
}): Props {
  return {
    ListenerArn: o.listenerArn,
    Priority: o.priority ?? '10',
    Conditions: [{ Field: 'host-header', HostHeaderConfig: { Values: [o.host ?? 'shop.example.com'] } }],
    TargetGroups: { blue: o.blueTg, green: o.greenTg },
    InitialWeights: o.initialWeights ?? { blue: '100', green: '0' },
  };
}

export interface GuardedServiceProps {
  ruleArn: string;
  blueTg: string;
  greenTg: string;
  blueVersion: string;
  greenVersion: string;
}

/** Custom::LiveImageGuard properties (lib/image-guard.ts). */
export function guardProps(environment: string, services: Record<'frontend' | 'backend', GuardedServiceProps>): Props {
  return {
    Environment: environment,
    Services: Object.fromEntries(
      Object.entries(services).map(([s, v]) => [
        s,
        {
          RuleArn: v.ruleArn,
          TargetGroups: { blue: v.blueTg, green: v.greenTg },
          Versions: { blue: v.blueVersion, green: v.greenVersion },
        },
      ]),
    ),
  };
}

/** Custom::ServiceCounts properties (lib/services.ts); `scaling` undefined means no autoscaling. */
export function countsProps(o: {
  clusterName: string;
  blueService: string;
  greenService: string;
  desiredCount?: string;
  scaling?: { min: string; max: string };
}): Props {
  const scaling = o.scaling && { MinCapacity: o.scaling.min, MaxCapacity: o.scaling.max };
  return {
    ClusterName: o.clusterName,
    Colors: {
      blue: { ServiceName: o.blueService, InitialDesiredCount: o.desiredCount ?? '3', InitialScaling: scaling, Scaling: scaling },
      green: {
        ServiceName: o.greenService,
        InitialDesiredCount: '0',
        InitialScaling: scaling && { MinCapacity: '0', MaxCapacity: '0' },
        Scaling: scaling,
      },
    },
  };
}
