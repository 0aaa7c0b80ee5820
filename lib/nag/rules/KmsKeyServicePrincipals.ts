import { type CfnResource } from 'aws-cdk-lib';
import { NagRuleCompliance, type NagRuleResult } from 'cdk-nag';
import { explain } from '../explain';
import { keyPolicyAllowsService, keysOf } from '../kms';
import { modelOf, referencedOfType, type AppModel, type ResourceRef, type StackModel } from '../model';

/** A service principal that uses a key on behalf of a resource of the app, and the actions it needs. */
interface ServiceUse {
  readonly key: ResourceRef;
  readonly service: string;
  readonly actions: readonly string[];
  /** The resource that makes the service use the key, for the report. */
  readonly consumer: string;
}

/** CloudTrail encrypts log files with the trail's key. https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html */
const CLOUDTRAIL = ['kms:GenerateDataKey*'];
/**
 * CloudWatch (alarm actions) and EventBridge (targets) publish to an encrypted topic as their service principal.
 * https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
 */
const PUBLISHER = ['kms:Decrypt', 'kms:GenerateDataKey*'];
/** CloudWatch Logs. https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html */
const LOGS = ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'];

/** An action name a policy pattern must cover (`kms:GenerateDataKey*` needs `kms:GenerateDataKey` at least). */
const concrete = (action: string) =>
  ({ 'kms:Encrypt*': 'kms:Encrypt', 'kms:Decrypt*': 'kms:Decrypt', 'kms:ReEncrypt*': 'kms:ReEncryptFrom', 'kms:GenerateDataKey*': 'kms:GenerateDataKey', 'kms:Describe*': 'kms:DescribeKey' })[action] ?? action;

function topicKeys(value: unknown, model: StackModel): ResourceRef[] {
  return referencedOfType(value, model, 'AWS::SNS::Topic').flatMap((t) => keysOf(t.model.resource(t.logicalId)?.Properties?.KmsMasterKeyId, t.model));
}

/** Every service use of a customer-managed key in the app, computed once per validation run. */
function serviceUses(app: AppModel): ServiceUse[] {
  return app.memo('kms-service-uses', () => {
    const uses: ServiceUse[] = [];
    for (const model of app.all()) {
      for (const [id, r] of Object.entries(model.template.Resources ?? {})) {
        const p = r.Properties ?? {};
        const add = (keys: ResourceRef[], service: string, actions: readonly string[]) => {
          for (const key of keys) uses.push({ key, service, actions, consumer: model.pathOf(id) });
        };
        switch (r.Type) {
          case 'AWS::CloudTrail::Trail':
            add(keysOf(p.KMSKeyId, model), 'cloudtrail.amazonaws.com', CLOUDTRAIL);
            break;
          case 'AWS::CloudWatch::Alarm':
          case 'AWS::CloudWatch::CompositeAlarm':
            add(topicKeys([p.AlarmActions, p.OKActions, p.InsufficientDataActions], model), 'cloudwatch.amazonaws.com', PUBLISHER);
            break;
          case 'AWS::Events::Rule':
            add(topicKeys((p.Targets ?? []).map((t: { Arn?: unknown }) => t.Arn), model), 'events.amazonaws.com', PUBLISHER);
            break;
          case 'AWS::Logs::LogGroup':
            add(keysOf(p.KmsKeyId, model), `logs.${model.region}.amazonaws.com`, LOGS);
            break;
          default:
            break;
        }
      }
    }
    return uses;
  });
}

/**
 * A KMS key's policy lets each AWS service principal that uses the key do so: CloudTrail for a trail encrypted
 * with it, CloudWatch for alarms whose actions publish to a topic encrypted with it, EventBridge for rules that
 * target such a topic, CloudWatch Logs for log groups encrypted with it. Service principals get nothing from IAM
 * policies: only the key policy can allow them. Without it the trail fails to create, or the alarm notification
 * and the event are silently dropped. Finding: `<service>:<action>`.
 */
export function KmsKeyServicePrincipals(node: CfnResource): NagRuleResult {
  if (node.cfnResourceType !== 'AWS::KMS::Key') return NagRuleCompliance.NOT_APPLICABLE;
  const model = modelOf(node);
  const logicalId = model.logicalIdOf(node);
  const findings = new Map<string, string[]>();
  for (const use of serviceUses(model.app)) {
    if (use.key.model !== model || use.key.logicalId !== logicalId) continue;
    for (const action of use.actions) {
      if (keyPolicyAllowsService(use.key, use.service, concrete(action))) continue;
      const finding = `${use.service}:${action}`;
      findings.set(finding, [...(findings.get(finding) ?? []), use.consumer]);
    }
  }
  if (findings.size === 0) return NagRuleCompliance.COMPLIANT;
  for (const [finding, consumers] of findings) {
    const shown = consumers.slice(0, 3).join(', ') + (consumers.length > 3 ? ` and ${consumers.length - 3} more` : '');
    explain(node, 'KmsKeyServicePrincipals', `the key policy does not allow ${finding.replace(/:(?=kms:)/, ' ')}, used for ${shown}`, finding);
  }
  return [...findings.keys()];
}
