import { type CfnResource } from 'aws-cdk-lib';
import { NagRuleCompliance, type NagRuleResult } from 'cdk-nag';
import { renderString, type Unknowns } from '../estimate';
import { explain } from '../explain';
import { modelOf, type StackModel } from '../model';

/**
 * Every `Fn::Select [i, Fn::Split [d, X]]` in a resource's properties is in range for the documented format of X.
 * CloudFormation fails the stack operation on an out-of-range Fn::Select; the template is valid JSON, cfn-lint
 * cannot know X's format, and the emulator does not evaluate it. X is rendered per formats.ts (a state machine
 * ARN is `arn:…:stateMachine:<name>`: split on ':stateMachine/' it is ONE part); a literal X is split for real.
 * An X whose format the table does not know is a finding too: add its type to formats.ts.
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-select.html
 */
export function SelectSplitInRange(node: CfnResource): NagRuleResult {
  const model = modelOf(node);
  const properties = model.resourceOf(node)?.Properties;
  if (properties === undefined) return NagRuleCompliance.NOT_APPLICABLE;
  const problems: string[] = [];
  visit(properties, model, problems);
  if (problems.length === 0) return NagRuleCompliance.COMPLIANT;
  for (const p of new Set(problems)) explain(node, 'SelectSplitInRange', p);
  return NagRuleCompliance.NON_COMPLIANT;
}

function visit(value: unknown, model: StackModel, problems: string[]): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (const v of value) visit(v, model, problems);
    return;
  }
  const obj = value as Record<string, any>;
  const select = obj['Fn::Select'];
  const split = Array.isArray(select) ? select[1]?.['Fn::Split'] : undefined;
  if (Array.isArray(split) && typeof select[0] !== 'object') {
    const index = Number(select[0]);
    const [delimiter, source] = split;
    const unknowns: Unknowns = [];
    const rendered = renderString(source, model, unknowns);
    const d = renderString(delimiter, model);
    const what = `Fn::Select [${index}, Fn::Split ['${d}', ${describe(source)}]]`;
    if (unknowns.length > 0) {
      problems.push(`${what}: format of ${[...new Set(unknowns)].join(', ')} unknown (add it to lib/nag/formats.ts)`);
    } else {
      const parts = rendered.split(d).length;
      if (!(index >= 0 && index < parts)) problems.push(`${what}: ${parts} part(s) in '${rendered}'`);
    }
  }
  for (const v of Object.values(obj)) visit(v, model, problems);
}

/** Short description of the split source for the report (the reference, not its rendering). */
function describe(source: unknown): string {
  const text = JSON.stringify(source) ?? '';
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}
