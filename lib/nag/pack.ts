import type { CfnResource, PolicyValidationPluginReport } from 'aws-cdk-lib';
import { NagMessageLevel, NagPack, type NagPackProps, type NagRuleResult } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { noteKey, takeNotes } from './explain';
import { resetModels } from './model';
import * as rules from './rules';

interface Rule {
  readonly rule: (node: CfnResource) => NagRuleResult;
  readonly info: string;
  readonly explanation: string;
}

const RULES: readonly Rule[] = [
  {
    rule: rules.LambdaEnvironmentSize,
    info: 'The Lambda function\'s environment can exceed 4 KB (the JSON of its variables, references at their longest).',
    explanation: 'Lambda rejects a function whose environment exceeds 4 KB: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html. Pass large data another way (a parameter, a table, the bundle).',
  },
  {
    rule: rules.EventPatternSize,
    info: 'The EventBridge rule\'s event pattern can exceed 2,048 characters.',
    explanation: 'EventBridge rejects a pattern over its quota: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html. Match on fewer, shorter values (a prefix, a tag) or split the rule.',
  },
  {
    rule: rules.SelectSplitInRange,
    info: 'An Fn::Select of an Fn::Split is out of range for the documented format of the value split (or the format is unknown).',
    explanation: 'CloudFormation fails the stack operation on an out-of-range Fn::Select. Use the attribute that holds the part (e.g. a Name attribute) or split on a separator the format has.',
  },
  {
    rule: rules.KmsKeyServicePrincipals,
    info: 'The KMS key\'s policy does not let an AWS service that uses the key do so.',
    explanation: 'Service principals (CloudTrail, CloudWatch alarms, EventBridge, CloudWatch Logs) can only be allowed by the key policy; without it the trail fails to create and notifications are dropped.',
  },
  {
    rule: rules.RoleCanDecrypt,
    info: 'The role uses a resource encrypted with a customer-managed key but may not use the key.',
    explanation: 'Reading a secret, reading/writing a table, publishing to a topic encrypted with a customer-managed key needs kms:Decrypt (and kms:GenerateDataKey for writes) on that key, allowed by IAM and the key policy.',
  },
  {
    rule: rules.CustomResourceServiceTimeout,
    info: 'The custom resource has no ServiceTimeout.',
    explanation: 'Without ServiceTimeout CloudFormation waits up to an hour for a provider that never answers, and the stack (and its rollback) hangs that long.',
  },
  {
    rule: rules.StackQuotas,
    info: 'The stack is within 10 % of a CloudFormation quota (500 resources, 200 outputs, 1 MB template).',
    explanation: 'CloudFormation rejects a stack over its quotas: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html. Split the stack before the next feature crosses it.',
  },
  {
    rule: rules.CompositeAlarmChildren,
    info: 'The composite alarm\'s rule references more than 100 alarms.',
    explanation: 'CloudWatch rejects a composite alarm whose rule references more than 100 alarms: https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutCompositeAlarm.html. Roll the children up in intermediate composites, or fewer triggers per composite.',
  },
  {
    rule: rules.TaskOutlivesLambda,
    info: 'A state machine Task invokes a Lambda function without a TimeoutSeconds longer than the function\'s timeout.',
    explanation: 'Step Functions would move on (catch, safe state, rollback) while the invocation keeps running and writing until the function\'s own timeout. Give the Task a TimeoutSeconds above the function\'s timeout.',
  },
  {
    rule: rules.IamPolicySize,
    info: 'The role\'s inline policies can exceed 10,240 characters together, or the managed policy 6,144.',
    explanation: 'IAM rejects policies over its quotas: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html. Merge statements, use wildcards on one resource family, or split the role.',
  },
  {
    rule: rules.ChatbotChannel,
    info: 'The Chatbot channel has no guardrail policies (AdministratorAccess applies), an invalid configuration name, or receives a topic under an AWS managed key.',
    explanation: 'Name a minimal guardrail policy (GuardrailPolicies defaults to AdministratorAccess), a name of 1-128 letters, digits, -, _, and encrypt the topic with a customer-managed key whose policy allows its publishers: CloudWatch alarms cannot publish to a topic under alias/aws/sns. https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services',
  },
];

/**
 * Project-owned cdk-nag pack of AWS deploy invariants: what the first `cdk deploy` enforces and no emulator,
 * linter or other pack does (quotas, key policies, intrinsic functions' ranges). Each rule is one file under
 * rules/, a function of the CfnResource and what its synthesized template lets it resolve (model.ts, estimate.ts).
 *
 * The rules read the synthesized templates, so run it as a validation plugin
 * (`Validations.of(app).addPlugins(new DeployInvariantChecks(app))`), or call `validateScope(app)` after
 * `app.synth()`. Finding IDs: `DeployInvariants-<Rule>` or `DeployInvariants-<Rule>[<finding>]`.
 */
export class DeployInvariantChecks extends NagPack {
  readonly name = 'DeployInvariants';

  constructor(scope?: IConstruct, props?: NagPackProps) {
    super(scope, props);
    this.packName = 'DeployInvariants';
  }

  public validateScope(scope: IConstruct): PolicyValidationPluginReport {
    // One model per validation run: the templates are read once and shared by every rule and resource.
    resetModels(scope);
    takeNotes();
    try {
      const report = super.validateScope(scope);
      const notes = takeNotes();
      // cdk-nag groups a rule's resources under one description; the details differ per resource (the size,
      // the consumer of the key), so a violation with details becomes one violation per resource.
      const violations = report.violations.flatMap((violation) => {
        const rule = violation.ruleName.slice(`${this.packName}-`.length);
        const detailed = violation.violatingResources.map((resource) => ({ resource, details: notes.get(noteKey(rule, resource.constructPath ?? '')) }));
        if (detailed.every((d) => !d.details)) return [violation];
        return detailed.map(({ resource, details }) => ({
          ...violation,
          description: details ? `${violation.description}\n  ${details.join('\n  ')}` : violation.description,
          violatingResources: [resource],
        }));
      });
      return { ...report, violations };
    } finally {
      resetModels(scope);
    }
  }

  protected checkResource(node: CfnResource): void {
    for (const { rule, info, explanation } of RULES) {
      this.applyRule({ info, explanation, level: NagMessageLevel.ERROR, rule, node });
    }
  }
}
