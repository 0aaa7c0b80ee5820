import { CustomResource } from 'aws-cdk-lib';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { Construct } from 'constructs';
import { COLOR_HEADER, COLORS, type Color } from '../lambda/shared/topology';
import type { ServiceColor } from './services';
import type { TrafficResourceProvider } from './traffic-resources';


/** Listener rule priorities are 1–50,000; each host takes a base and the two above it. https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-update-rules.html */
const PRIORITY_BUCKETS = 4999;

/** FNV-1a, 32 bits: a stable hash of a host name (no crypto needed, only spread). */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * The listener rule priority base of each host (10–49,990, a multiple of 10): its production rule takes the base, its
 * test rules base + 1 (blue) and base + 2 (green). Derived from the host alone, so adding or removing a service never
 * moves another service's rules: two rules cannot share a priority, and renumbering every rule in one deploy would
 * make CloudFormation update them one by one through states where two collide. Two hosts on one base (rare): the one
 * that sorts later takes the next free base.
 */
export function hostPriorities(hosts: readonly string[]): Record<string, number> {
  const taken = new Set<number>();
  const out: Record<string, number> = {};
  for (const host of [...new Set(hosts)].sort()) {
    let bucket = fnv1a(host) % PRIORITY_BUCKETS;
    while (taken.has(bucket)) bucket = (bucket + 1) % PRIORITY_BUCKETS;
    taken.add(bucket);
    out[host] = (bucket + 1) * 10;
  }
  return out;
}

/** Weights a new environment starts with: everything on blue. */
export const INITIAL_WEIGHTS: Readonly<Record<Color, number>> = { blue: 100, green: 0 };

/** A listener rule whose forward weights traffic control moves (a plain ApplicationListenerRule fits too). */
export interface IWeightedListenerRule {
  readonly listenerRuleArn: string;
}

export interface ServiceRoutingProps {
  readonly productionListener: elbv2.IApplicationListener;
  readonly testListener: elbv2.IApplicationListener;
  /** Host the service answers on. */
  readonly hostHeader: string;
  readonly colors: Readonly<Record<Color, ServiceColor>>;
  /** Creates the production rule, whose weights traffic control owns after creation. */
  readonly provider: TrafficResourceProvider;
  /** Priority of the production rule; the test rules take `priority + 1` (blue) and `priority + 2` (green). */
  readonly priority: number;
}

/**
 * Routes one service's host. On the production listener: a weighted forward to blue and green that
 * starts at blue 100 / green 0 and is created by Custom::WeightedListenerRule, so no later deployment
 * resets the weights (lambda/custom-resources/weighted-rule.ts). On the test listener: one rule per
 * color selected by header, for pre-traffic checks of a named color.
 */
export class ServiceRouting extends Construct implements IWeightedListenerRule {
  /** The production rule; its weights belong to traffic control. */
  readonly productionRule: CustomResource;

  constructor(scope: Construct, id: string, props: ServiceRoutingProps) {
    super(scope, id);
    const host = elbv2.ListenerCondition.hostHeaders([props.hostHeader]);
    props.provider.grantRules(props.productionListener);
    this.productionRule = new CustomResource(this, 'Production', {
      serviceToken: props.provider.serviceToken,
      serviceTimeout: props.provider.serviceTimeout,
      resourceType: 'Custom::WeightedListenerRule',
      properties: {
        ListenerArn: props.productionListener.listenerArn,
        Priority: props.priority,
        Conditions: [{ Field: 'host-header', HostHeaderConfig: { Values: [props.hostHeader] } }],
        TargetGroups: { blue: props.colors.blue.targetGroup.targetGroupArn, green: props.colors.green.targetGroup.targetGroupArn },
        InitialWeights: INITIAL_WEIGHTS,
      },
    });
    COLORS.forEach((color, i) => {
      new elbv2.ApplicationListenerRule(this, color === 'blue' ? 'TestBlue' : 'TestGreen', {
        listener: props.testListener,
        priority: props.priority + 1 + i,
        conditions: [host, elbv2.ListenerCondition.httpHeader(COLOR_HEADER, [color])],
        action: elbv2.ListenerAction.forward([props.colors[color].targetGroup]),
      });
    });
  }

  /** The production rule's ARN. */
  get listenerRuleArn(): string {
    return this.productionRule.getAttString('RuleArn');
  }
}
