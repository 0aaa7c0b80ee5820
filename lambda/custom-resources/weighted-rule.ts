/**
 * Custom::WeightedListenerRule — the production listener rule of one service, whose forward weights
 * belong to traffic control and never to CloudFormation.
 *
 * Create: CreateRule with the initial weights (blue 100, green 0). If the priority is taken by a rule that forwards to
 *   exactly this resource's target groups, that rule is this resource's own, made by an attempt whose answer was lost
 *   (a timed-out call, a Lambda retried after dying): it is adopted instead of failing every later deploy with
 *   PriorityInUse. A rule of anything else at that priority still fails the deploy, naming it.
 * Update: conditions and priority follow the template; weights are NEVER taken from the template. If a
 *   target group was replaced, its color keeps the weight it had. A new listener means a new rule
 *   (the old one is deleted by CloudFormation), which takes over the weights of the old rule.
 * Delete: DeleteRule; a rule that is already gone is fine.
 * Why: a plain AWS::ElasticLoadBalancingV2::ListenerRule puts its template weights back on any update
 * of the rule, undoing a release (aws/aws-cdk#36649).
 */
import {
  CreateRuleCommand,
  DeleteRuleCommand,
  DescribeRulesCommand,
  ModifyRuleCommand,
  type RuleCondition,
  SetRulePrioritiesCommand,
  type ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { COLORS, type Color } from '../shared/topology';
import { validateWeights, type Weights } from '../traffic/weights';
import { withRetry } from '../traffic/retry';
import { type CfnEvent, type CfnResult, intProp, stringProp } from './cfn';

export interface WeightedRuleProps {
  readonly listenerArn: string;
  readonly priority: number;
  readonly conditions: RuleCondition[];
  readonly targetGroups: Readonly<Record<Color, string>>;
  /** Used on create only. */
  readonly initialWeights: Weights;
}

export function parseWeightedRuleProps(raw: Record<string, unknown> | undefined): WeightedRuleProps {
  if (!raw) throw new Error('missing ResourceProperties');
  const tgs = raw.TargetGroups as Record<string, unknown> | undefined;
  const initial = raw.InitialWeights as Record<string, unknown> | undefined;
  if (!Array.isArray(raw.Conditions) || raw.Conditions.length === 0) throw new Error('property Conditions must be a non-empty list');
  return {
    listenerArn: stringProp(raw.ListenerArn, 'ListenerArn'),
    // ALB rule priorities are 1–50000.
    priority: intProp(raw.Priority, 'Priority', { min: 1, max: 50000 }),
    conditions: raw.Conditions as RuleCondition[],
    targetGroups: { blue: stringProp(tgs?.blue, 'TargetGroups.blue'), green: stringProp(tgs?.green, 'TargetGroups.green') },
    initialWeights: initialWeights(initial),
  };
}

function initialWeights(initial: Record<string, unknown> | undefined): Weights {
  const w = { blue: intProp(initial?.blue, 'InitialWeights.blue'), green: intProp(initial?.green, 'InitialWeights.green') };
  try {
    return validateWeights(w);
  } catch (e) {
    // validateWeights speaks of "blue weight"; the stack event must name the property.
    throw new Error(`property InitialWeights is invalid: ${(e as Error).message}`);
  }
}

function forward(targetGroups: Readonly<Record<Color, string>>, weights: Weights) {
  return [{ Type: 'forward' as const, ForwardConfig: { TargetGroups: COLORS.map((c) => ({ TargetGroupArn: targetGroups[c], Weight: weights[c] })) } }];
}

/** The weight of each target group a rule forwards to (one DescribeRules); a group it does not forward to weighs 0. */
export async function forwardWeights(elbv2: ElasticLoadBalancingV2Client, ruleArn: string): Promise<(targetGroupArn: string) => number> {
  const out = await withRetry(() => elbv2.send(new DescribeRulesCommand({ RuleArns: [ruleArn] })));
  const action = out.Rules?.[0]?.Actions?.find((a) => a.Type === 'forward');
  const groups = action?.ForwardConfig?.TargetGroups ?? [];
  return (arn) => groups.find((g) => g.TargetGroupArn === arn)?.Weight ?? 0;
}

/** The live weights of a rule by color, read through the target groups each color had. */
export async function liveWeights(elbv2: ElasticLoadBalancingV2Client, ruleArn: string, targetGroups: Readonly<Record<Color, string>>): Promise<Weights> {
  const weightOf = await forwardWeights(elbv2, ruleArn);
  return { blue: weightOf(targetGroups.blue), green: weightOf(targetGroups.green) };
}

/** The rule at `props.priority` if it forwards to exactly this resource's target groups (made by an earlier attempt). */
async function ownRuleAt(elbv2: ElasticLoadBalancingV2Client, props: WeightedRuleProps): Promise<string | undefined> {
  let marker: string | undefined;
  do {
    const out = await withRetry(() => elbv2.send(new DescribeRulesCommand({ ListenerArn: props.listenerArn, Marker: marker })));
    const rule = out.Rules?.find((r) => r.Priority === String(props.priority));
    if (rule) {
      const groups = (rule.Actions?.find((a) => a.Type === 'forward')?.ForwardConfig?.TargetGroups ?? []).map((g) => g.TargetGroupArn).sort();
      return JSON.stringify(groups) === JSON.stringify(COLORS.map((c) => props.targetGroups[c]).sort()) ? rule.RuleArn : undefined;
    }
    marker = out.NextMarker;
  } while (marker);
  return undefined;
}

export async function handleWeightedRule(event: CfnEvent, elbv2: ElasticLoadBalancingV2Client): Promise<CfnResult> {
  if (event.RequestType === 'Delete') {
    if (event.PhysicalResourceId.startsWith('arn:')) {
      await withRetry(() => elbv2.send(new DeleteRuleCommand({ RuleArn: event.PhysicalResourceId }))).catch((e) => {
        if ((e as Error).name !== 'RuleNotFoundException') throw e;
      });
    }
    return { physicalResourceId: event.PhysicalResourceId };
  }

  const props = parseWeightedRuleProps(event.ResourceProperties);
  const create = async (weights: Weights) => {
    const out = await withRetry(() =>
      elbv2.send(
        new CreateRuleCommand({ ListenerArn: props.listenerArn, Priority: props.priority, Conditions: props.conditions, Actions: forward(props.targetGroups, weights) }),
      ),
    ).catch(async (e) => {
      if ((e as Error)?.name !== 'PriorityInUseException') throw e;
      const mine = await ownRuleAt(elbv2, props);
      if (!mine) throw e;
      return { Rules: [{ RuleArn: mine }] };
    });
    const arn = out.Rules?.[0]?.RuleArn;
    if (!arn) throw new Error('CreateRule returned no rule ARN');
    return { physicalResourceId: arn, data: { RuleArn: arn } };
  };

  if (event.RequestType === 'Create') return create(props.initialWeights);

  const ruleArn = event.PhysicalResourceId;
  const old = parseWeightedRuleProps(event.OldResourceProperties);
  const weights = await liveWeights(elbv2, ruleArn, old.targetGroups);
  if (old.listenerArn !== props.listenerArn) return create(weights);

  const groupsChanged = COLORS.some((c) => old.targetGroups[c] !== props.targetGroups[c]);
  await withRetry(() =>
    elbv2.send(
      new ModifyRuleCommand({
        RuleArn: ruleArn,
        Conditions: props.conditions,
        // Only when a target group was replaced: the same weights, on the new group ARNs.
        ...(groupsChanged ? { Actions: forward(props.targetGroups, weights) } : {}),
      }),
    ),
  );
  if (old.priority !== props.priority) {
    await withRetry(() => elbv2.send(new SetRulePrioritiesCommand({ RulePriorities: [{ RuleArn: ruleArn, Priority: props.priority }] })));
  }
  return { physicalResourceId: ruleArn, data: { RuleArn: ruleArn } };
}
