/**
 * The Application Load Balancer metrics a color is judged by, shared by the rollback alarms (lib/rollback-alarms.ts,
 * metric math in CloudWatch) and the release judge's query (lambda/release/judge-query.ts, the same arithmetic on the
 * raw series). No SDK import: the CDK app and every bundle may use it.
 * https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
 */
export const ALB_NAMESPACE = 'AWS/ApplicationELB';

/** Requests of a target group (statistic Sum). */
export const REQUEST_COUNT = 'RequestCount';
/**
 * The answers a target gave that are not failures: 2XX, 3XX and 4XX (statistic Sum). Every other request of the target
 * group failed (`failedRequests`).
 */
export const ANSWERED_METRICS = ['HTTPCode_Target_2XX_Count', 'HTTPCode_Target_3XX_Count', 'HTTPCode_Target_4XX_Count'] as const;
/** Seconds from the load balancer sending a request to the target until its response headers (we read p99). */
export const TARGET_RESPONSE_TIME = 'TargetResponseTime';

/**
 * Failed requests of a target group in one minute: every request that did not get a 2XX, 3XX or 4XX answer from a
 * target, i.e. the targets' own 5XX plus the 502/503/504 the load balancer answered for them (those ELB codes exist per
 * load balancer only). Missing counts are 0 (CloudWatch has no datapoint for a count that was 0); clamped at 0 (a minute
 * can hold answers to the previous minute's requests). The same definition as the alarms' ERRORS_EXPRESSION
 * (lib/rollback-alarms.ts): `IF(req - ok2 - ok3 - ok4 > 0, req - ok2 - ok3 - ok4, 0)` with FILL(…, 0).
 */
export function failedRequests(requests: number | undefined, answered: readonly (number | undefined)[]): number {
  const failed = (requests ?? 0) - answered.reduce<number>((sum, n) => sum + (n ?? 0), 0);
  return failed > 0 ? failed : 0;
}

/**
 * The `TargetGroup` dimension of a target group's metrics: the end of its ARN, `targetgroup/<name>/<id>`
 * (arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>).
 */
export function targetGroupDimension(targetGroupArn: string): string {
  const m = /:(targetgroup\/[^/]+\/[^/]+)$/.exec(targetGroupArn);
  if (!m) throw new Error(`not a target group ARN (…:targetgroup/<name>/<id>): ${targetGroupArn}`);
  return m[1];
}

/**
 * The `LoadBalancer` dimension (`app/<name>/<id>`) from the ARN of a listener rule, a listener or the load balancer
 * (…:listener-rule/app/<name>/<id>/<listener>/<rule>, …:listener/app/<name>/<id>/<listener>, …:loadbalancer/app/<name>/<id>).
 * The ALB publishes target group metrics with both dimensions together (and per AZ); a query must name both.
 */
export function loadBalancerDimension(arn: string): string {
  const m = /:(?:listener-rule|listener|loadbalancer)\/(app\/[^/]+\/[^/]+)(?:\/|$)/.exec(arn);
  if (!m) throw new Error(`not an Application Load Balancer, listener or listener rule ARN (…/app/<name>/<id>…): ${arn}`);
  return m[1];
}
