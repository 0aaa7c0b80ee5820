import { type CfnResource } from 'aws-cdk-lib';
import { NagRuleCompliance, type NagRuleResult } from 'cdk-nag';
import { modelOf, type StackModel } from '../model';

/** Lambda's default timeout when a function sets none. */
const LAMBDA_DEFAULT_TIMEOUT_SECONDS = 3;
const FUNCTION_PLACEHOLDER = '__function__:';

/** The definition as JSON, each `Fn::GetAtt [<function>, Arn]` replaced by a placeholder naming its logical ID. */
function definitionOf(model: StackModel, raw: unknown): { States?: Record<string, any> } | undefined {
  let text: string | undefined;
  if (typeof raw === 'string') text = raw;
  const join = (raw as { 'Fn::Join'?: [string, unknown[]] } | undefined)?.['Fn::Join'];
  if (join) {
    text = join[1]
      .map((part) => {
        if (typeof part === 'string') return part;
        const att = (part as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
        if (att && att[1] === 'Arn' && model.resource(att[0])?.Type === 'AWS::Lambda::Function') return `${FUNCTION_PLACEHOLDER}${att[0]}`;
        return 'unresolved';
      })
      .join(join[0]);
  }
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Every Task state, however deeply nested (Parallel branches, Map iterators). */
function tasksOf(states: Record<string, any> | undefined, out: [string, any][] = []): [string, any][] {
  for (const [name, state] of Object.entries(states ?? {})) {
    if (state?.Type === 'Task') out.push([name, state]);
    for (const branch of state?.Branches ?? []) tasksOf(branch.States, out);
    if (state?.Iterator) tasksOf(state.Iterator.States, out);
    if (state?.ItemProcessor) tasksOf(state.ItemProcessor.States, out);
  }
  return out;
}

/**
 * Every state machine Task that invokes a Lambda function of its stack has a TimeoutSeconds longer than the function's
 * own timeout. Otherwise Step Functions gives up on the Task (States.Timeout) and moves on — to the release's safe
 * state, a rollback — while the invocation keeps running and may still write weights or counts after it: Lambda ends
 * an invocation only at the function's timeout. https://docs.aws.amazon.com/step-functions/latest/dg/sfn-best-practices.html#sfn-best-practices-timeouts
 * A Task without TimeoutSeconds waits for the function (up to the execution's timeout), which this rule also refuses:
 * a hung invocation would hold the release for a day.
 */
export function TaskOutlivesLambda(node: CfnResource): NagRuleResult {
  if (node.cfnResourceType !== 'AWS::StepFunctions::StateMachine') return NagRuleCompliance.NOT_APPLICABLE;
  const model = modelOf(node);
  const definition = definitionOf(model, model.resourceOf(node)?.Properties?.DefinitionString);
  if (!definition) return NagRuleCompliance.NOT_APPLICABLE;
  const bad: string[] = [];
  for (const [name, task] of tasksOf(definition.States)) {
    const target: unknown = task.Parameters?.FunctionName ?? task.Resource;
    if (typeof target !== 'string' || !target.includes(FUNCTION_PLACEHOLDER)) continue;
    const id = target.slice(target.indexOf(FUNCTION_PLACEHOLDER) + FUNCTION_PLACEHOLDER.length).split(/[:"]/)[0];
    const fnTimeout = Number(model.resource(id)?.Properties?.Timeout ?? LAMBDA_DEFAULT_TIMEOUT_SECONDS);
    const taskTimeout = task.TimeoutSeconds;
    if (typeof taskTimeout !== 'number' || taskTimeout <= fnTimeout) bad.push(`${name} (${taskTimeout ?? 'no'} s, function ${fnTimeout} s)`);
  }
  return bad.length > 0 ? NagRuleCompliance.NON_COMPLIANT : NagRuleCompliance.COMPLIANT;
}
