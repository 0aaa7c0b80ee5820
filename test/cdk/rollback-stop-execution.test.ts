/**
 * Finding 1 of the deploy-ready issue: the rollback Lambda's `states:StopExecution` resource was built by splitting the
 * state machine ARN on ':stateMachine/', but state machine ARNs have a colon before the name
 * (arn:aws:states:<region>:<account>:stateMachine:<name>), so `Fn::Select [1]` was out of range and the stack failed to
 * create. This evaluates the synthesized expression against a real-shaped ARN, as CloudFormation would.
 */
import { synthEnvironment } from './support';

type Cfn = unknown;

/** Evaluates the intrinsics the statement uses, failing as CloudFormation does on an out-of-range Fn::Select. */
function evaluate(e: Cfn, refs: Record<string, string>): string | string[] {
  if (typeof e === 'string') return e;
  if (Array.isArray(e)) return e.map((x) => evaluate(x, refs) as string);
  const [fn, arg] = Object.entries(e as Record<string, any>)[0];
  switch (fn) {
    case 'Ref':
      if (!(arg in refs)) throw new Error(`no value for Ref ${arg}`);
      return refs[arg];
    case 'Fn::Join':
      return (arg[1] as Cfn[]).map((x) => evaluate(x, refs)).join(arg[0]);
    case 'Fn::Split':
      return (evaluate(arg[1], refs) as string).split(arg[0]);
    case 'Fn::Select': {
      const list = evaluate(arg[1], refs) as string[];
      const i = Number(arg[0]);
      if (i >= list.length) throw new Error(`Fn::Select index ${i} out of range for ${JSON.stringify(list)}`);
      return list[i];
    }
    default:
      throw new Error(`unsupported ${fn}`);
  }
}

const { stateless, monitoring } = synthEnvironment('production');

test('THEN the rollback and crash detection roles may stop executions of the release state machine, resolved as CloudFormation resolves it', () => {
  const [smId] = Object.keys(stateless.findResources('AWS::StepFunctions::StateMachine'));
  const statements = (Object.values(stateless.findResources('AWS::IAM::Policy')) as any[]).flatMap((p) => p.Properties.PolicyDocument.Statement);
  const stop = statements.filter((s) => [s.Action].flat().includes('states:StopExecution'));
  // One statement per role that runs the rollback core (lib/rollback.ts grantRollback): the rollback here, crash
  // detection in the monitoring stack (through the state machine's export).
  expect(stop).toHaveLength(1);
  const crash = (Object.values(monitoring.findResources('AWS::IAM::Policy')) as any[]).flatMap((p) => p.Properties.PolicyDocument.Statement).filter((s) => [s.Action].flat().includes('states:StopExecution'));
  expect(crash).toHaveLength(1);
  expect(JSON.stringify(crash[0].Resource)).toMatch(/Fn::ImportValue.*ExportsOutputRefReleaseStateMachine/);
  const refs = {
    [smId]: 'arn:aws:states:us-east-1:333333333333:stateMachine:ReleaseStateMachine2E01A3A5-AbCdEfGhIjKl',
    'AWS::Partition': 'aws',
    'AWS::Region': 'us-east-1',
    'AWS::AccountId': '333333333333',
  };
  for (const st of stop) expect(evaluate(st.Resource, refs)).toBe('arn:aws:states:us-east-1:333333333333:execution:ReleaseStateMachine2E01A3A5-AbCdEfGhIjKl:*');
});
