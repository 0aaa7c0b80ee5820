import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { Construct } from 'constructs';
import { COLORS, type Color } from '../lambda/shared/topology';
import type { ServiceColor } from './services';

/** Header that picks the color on the test listener, e.g. `curl -H 'X-Release-Color: green'`. */
export const COLOR_HEADER = 'X-Release-Color';

export interface ServiceRoutingProps {
  readonly productionListener: elbv2.IApplicationListener;
  readonly testListener: elbv2.IApplicationListener;
  /** Host the service answers on. */
  readonly hostHeader: string;
  readonly colors: Readonly<Record<Color, ServiceColor>>;
  /**
   * Priority of the production rule; the test rules take `priority + 1` (blue) and `priority + 2` (green).
   */
  readonly priority: number;
}

/**
 * Routes one service's host: on the production listener, a weighted forward to blue and green that
 * starts at blue 100 / green 0; on the test listener, one rule per color selected by header.
 */
export class ServiceRouting extends Construct {
  /** The production rule whose weights traffic control owns. */
  readonly productionRule: elbv2.ApplicationListenerRule;

  constructor(scope: Construct, id: string, props: ServiceRoutingProps) {
    super(scope, id);
    const host = elbv2.ListenerCondition.hostHeaders([props.hostHeader]);
    this.productionRule = new elbv2.ApplicationListenerRule(this, 'Production', {
      listener: props.productionListener,
      priority: props.priority,
      conditions: [host],
      action: elbv2.ListenerAction.weightedForward([
        { targetGroup: props.colors.blue.targetGroup, weight: 100 },
        { targetGroup: props.colors.green.targetGroup, weight: 0 },
      ]),
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

  /** The production rule's ARN (the `ref` of AWS::ElasticLoadBalancingV2::ListenerRule). */
  get productionRuleArn(): string {
    return this.productionRule.listenerRuleArn;
  }
}
