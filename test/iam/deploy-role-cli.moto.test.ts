/**
 * IAM against code for the GitHub Actions deploy role (lib/deploy-role.ts): the release CLI's `start` (with follow)
 * and `status`, as the pipeline runs them, against moto through a recording proxy; every request is checked against
 * the role's synthesized policy (dev's Cicd stack), resolved with moto's ARNs. moto enforces no IAM: without this, a
 * missing permission would first show in the pipeline's first release.
 *
 * Not covered here: kms:Decrypt through DynamoDB on the encrypted lock table (moto does not encrypt; the grant is
 * asserted in test/cicd/deploy-role.test.ts), and `cdk deploy`'s calls, which run as the CDK bootstrap roles.
 */
import { CreateStateMachineCommand, SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { Template } from 'aws-cdk-lib/assertions';
import { main } from '../../cli/release';
import { logger } from '../../lambda/traffic';
import { synthEnvironment } from '../cdk/support';
import { environmentsIn } from '../support/cli';
import { startFaultProxy, type FaultProxy, type ProxiedRequest } from '../support/fault-proxy';
import { deployStackOutputs, type Fixture, useMotoFixture } from '../support/fixture';
import { authorizationsOf, type ArnScope } from '../support/iam-calls';
import { checkCalls, describeFinding } from '../support/iam-check';
import type { Statement } from '../support/iam-policy';
import { CfnResolver, roleStatements, UNRESOLVED } from '../support/iam-resolve';
import type { RecordedCall } from '../support/instrument';
import type { MotoServer } from '../support/moto';
import { ACCOUNT, DUMMY_RELEASE_DEFINITION } from '../support/release';
import { ENVIRONMENTS } from '../../config';

jest.setTimeout(120000);
logger.setLogLevel('SILENT');

const SCOPE: ArnScope = { partition: 'aws', region: 'us-east-1', account: ACCOUNT };
/** The SigV4 signing name of a proxied request → the client name of the IAM call map (test/support/iam-calls.ts). */
const CLIENT: Record<string, string> = { dynamodb: 'dynamodb', states: 'sfn', elasticloadbalancing: 'elbv2', cloudformation: 'cloudformation', sts: 'sts' };

const synth = synthEnvironment('dev');
const cicd = synth.stage.cicd!;
const template = Template.fromStack(cicd).toJSON() as { Resources: Record<string, { Type: string; Properties?: any }> };
const roleId = cicd.getLogicalId(cicd.deployRole.role.node.defaultChild as any);

let moto: MotoServer;
let fx: Fixture;
let proxy: FaultProxy;
let sfn: SFNClient;
let stateMachineArn: string;

useMotoFixture(async (s) => {
  ({ moto, fx } = s);
  sfn?.destroy();
  sfn = new SFNClient(moto.clientConfig);
  stateMachineArn = (
    await sfn.send(new CreateStateMachineCommand({ name: 'dev-release', roleArn: `arn:aws:iam::${ACCOUNT}:role/dev-release`, definition: DUMMY_RELEASE_DEFINITION }))
  ).stateMachineArn!;
  await deployStackOutputs(moto.clientConfig, fx.topology, { ReleaseStateMachineArn: stateMachineArn });
  await proxy?.close();
  proxy = await startFaultProxy(moto.endpoint);
});
afterAll(async () => {
  sfn?.destroy();
  await proxy?.close();
});

async function cli(...argv: string[]) {
  const out: string[] = [];
  const code = await main([...argv, '--endpoint', proxy.endpoint], {
    stdout: (l) => out.push(l),
    stderr: (l) => out.push(l),
    clientOptions: { region: 'us-east-1', credentials: moto.clientConfig.credentials },
    pollMs: 1,
    environments: environmentsIn(ACCOUNT),
  });
  return { code, out: out.join('\n') };
}

/** The proxied requests as recorded calls (the query protocol's form parameters are the input's top-level fields). */
function recorded(requests: readonly ProxiedRequest[]): RecordedCall[] {
  return requests.map((r, seq) => {
    const client = CLIENT[r.service];
    if (!client) throw new Error(`request to an unexpected service ${r.service} (${r.operation})`);
    return { client, command: r.operation, input: r.body, seq, startedAt: 0 };
  });
}

/** The deploy role's statements with moto's ARNs: the imports of the stateless stack's outputs bound to the fixture's. */
function statements(): Statement[] {
  const r = new CfnResolver({ template, scope: SCOPE, literals: [[ENVIRONMENTS.dev.account, ACCOUNT]] });
  const lockTableArn = `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/${fx.topology.lockTableName}`;
  const ledgerTableArn = `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/${fx.topology.ledgerTableName}`;
  const policy = JSON.stringify(roleStatements(template, roleId));
  for (const [, name] of policy.matchAll(/"Fn::ImportValue":"([^"]+)"/g)) {
    const value = /ReleaseStateMachine/.test(name) ? stateMachineArn : /TrafficControlLock/.test(name) ? lockTableArn : /TrafficControlLedger/.test(name) ? ledgerTableArn : /AppKey/.test(name) ? `arn:aws:kms:us-east-1:${ACCOUNT}:key/app` : undefined;
    if (!value) throw new Error(`the deploy role imports ${name}, which this test does not bind`);
    r.bind({ 'Fn::ImportValue': name }, value);
  }
  return roleStatements(template, roleId).map((s) => r.statement(s));
}

test('GIVEN the pipeline starts a release and follows it, then asks for its status THEN the deploy role allows every call, on the environment\'s resources', async () => {
  // moto keeps an execution RUNNING until it is stopped: stop it once the CLI has started it, so `follow` ends.
  const stopped = proxy.waitFor('StartExecution').then(async () => {
    const started = await proxy.waitFor((q) => q.operation === 'DescribeExecution');
    await sfn.send(new StopExecutionCommand({ executionArn: started.body.executionArn }));
  });
  const start = await cli('start', '--env', 'dev');
  await stopped;
  expect(start.out).toMatch(/release of dev started: arn:aws:states:/);
  expect(start.out).toMatch(/release ABORTED/);
  const status = await cli('status', '--env', 'dev');
  expect(status.code).toBe(0);

  const calls = recorded(proxy.requests);
  // Every command the two paths make, so a new call shows up here before it reaches the pipeline.
  expect([...new Set(calls.map((c) => `${c.client}:${c.command}`))].sort()).toEqual([
    'cloudformation:DescribeStacks',
    'dynamodb:GetItem',
    'dynamodb:Query',
    'elbv2:DescribeRules',
    'sfn:DescribeExecution',
    'sfn:GetExecutionHistory',
    'sfn:ListExecutions',
    'sfn:StartExecution',
    'sts:GetCallerIdentity',
  ]);
  const resolved = statements();
  // Every ARN of the policy resolved (the executions' pattern goes through Fn::Select/Fn::Split of an import).
  expect(JSON.stringify(resolved)).not.toContain(UNRESOLVED);
  expect(JSON.stringify(resolved)).toContain(`:execution:dev-release:*`);
  const findings = checkCalls('deploy-role', calls, resolved, SCOPE);
  expect(findings.map(describeFinding)).toEqual([]);
});

test('GIVEN the role without its Step Functions statements THEN the check finds the calls denied (the check can fail)', async () => {
  // No release has run in this fresh emulator: status lists the executions and reads no history.
  expect((await cli('status', '--env', 'dev')).out).toContain('no release has run yet');
  const calls = recorded(proxy.requests);
  const withoutStates = statements().filter((s) => ![s.Action ?? []].flat().some((a) => String(a).startsWith('states:')));
  const denied = checkCalls('deploy-role', calls, withoutStates, SCOPE).map((f) => f.authorization.action);
  expect(new Set(denied)).toEqual(new Set(['states:ListExecutions']));
  // The actions it evaluated map to resources of this environment only (the state machine, the lock table, the stack).
  expect(calls.flatMap((c) => authorizationsOf(c, SCOPE)).map((a) => a.resource).filter((r) => r !== '*')).toEqual(
    expect.arrayContaining([stateMachineArn, expect.stringContaining(`:table/${fx.topology.lockTableName}`), expect.stringContaining(':stack/Dev-Stateless/')]),
  );
});
