import { CfnElement } from 'aws-cdk-lib';
import { BAKE_POLL_ERRORS } from '../../lib/release';
import { StateMachine } from 'aws-local-stepfunctions';
import { ENVIRONMENTS, type EnvironmentName } from '../../config';
import { definitionFromTemplate, taskFunctionId } from '../release/rehearsal';
import { HISTORY_EVENTS_LIMIT, stateMachineTimeoutSeconds, worstCaseHistoryEvents } from '../../lambda/release/policy';
import { resourcesOf, synthEnvironment } from './support';

/** Every state of a definition, including those inside Parallel and Map branches. */
function statesOf(states: Record<string, any>): [string, any][] {
  return Object.entries(states).flatMap(([name, s]) => [
    [name, s] as [string, any],
    ...(s.Branches ?? []).flatMap((b: any) => statesOf(b.States)),
    ...(s.Iterator ? statesOf(s.Iterator.States) : []),
    ...(s.ItemProcessor ? statesOf(s.ItemProcessor.States) : []),
  ]);
}

describe.each(Object.keys(ENVIRONMENTS) as EnvironmentName[])('%s release state machine', (name) => {
  const { stateless } = synthEnvironment(name);
  const definition = definitionFromTemplate(stateless);
  const policy = ENVIRONMENTS[name].release;

  test('GIVEN the synthesized definition THEN it is a valid Amazon States Language document', () => {
    expect(() => new StateMachine(definition as any, { validationOptions: { checkArn: false, checkPaths: true } })).not.toThrow();
  });

  test('THEN the machine has an overall timeout and every Task a timeout and a catch into the safe state', () => {
    expect(definition.TimeoutSeconds).toBeGreaterThan(0);
    const tasks = statesOf(definition.States).filter(([, s]) => s.Type === 'Task');
    expect(tasks.length).toBeGreaterThan(5);
    for (const [stateName, s] of tasks) {
      expect([stateName, s.TimeoutSeconds ?? s.TimeoutSecondsPath]).toEqual([stateName, expect.anything()]);
    }
    const uncaught = tasks.filter(([, s]) => !s.Catch?.length).map(([n]) => n);
    // The safe state's own tasks have nowhere safer to go.
    for (const n of uncaught) expect(n).toMatch(/Safe|Abandon|Fail/i);
  });

  test(`THEN its shape follows the policy (${policy.strategy}, approval ${policy.approvalAfterFirstStep ? 'on' : 'off'}, backup ${policy.backupBeforeRelease ? 'on' : 'off'}, migration ${policy.migrationCommand ? 'on' : 'off'})`, () => {
    const names = Object.keys(definition.States);
    expect(names.some((n) => /Approval/.test(n))).toBe(policy.approvalAfterFirstStep);
    expect(names.some((n) => /Backup/.test(n))).toBe(policy.backupBeforeRelease);
    expect(names.some((n) => /Migration/.test(n))).toBe(!!policy.migrationCommand);
  });

  test('THEN PreflightChecks runs its own function right after Preflight, before anything is scaled, and a refusal goes to the safe state', () => {
    const { stage } = synthEnvironment(name);
    expect(definition.States.Preflight.Next).toBe('PreflightChecks');
    const checks = definition.States.PreflightChecks;
    expect(checks.Next).toBe(policy.backupBeforeRelease ? 'Backup' : policy.migrationCommand ? 'StartMigration' : 'ScaleUp');
    expect(checks.Catch).toEqual([expect.objectContaining({ ErrorEquals: ['States.ALL'], Next: 'SafeState', ResultPath: '$.error' })]);
    const fn = stage.stateless.release.preflightChecksHandler!;
    expect(taskFunctionId(checks)).toBe(stage.stateless.getLogicalId(fn.function.node.defaultChild as CfnElement));
    expect(checks.Parameters).toEqual({ step: 'preflightChecks', 'release.$': '$.release' });
  });

  test("THEN only the preflight checks role has ECR and ACM permissions: read-only, on the services' repositories and the load balancer's certificates", () => {
    const { stage } = synthEnvironment(name);
    const config = ENVIRONMENTS[name];
    const policies = resourcesOf(stateless, 'AWS::IAM::Policy');
    const role = stage.stateless.getLogicalId(stage.stateless.release.preflightChecksHandler!.role.node.defaultChild as CfnElement);
    const statements = (own: boolean) =>
      policies.filter(([, p]) => p.Properties.Roles.some((r: any) => r.Ref === role) === own).flatMap(([, p]) => p.Properties.PolicyDocument.Statement as any[]);
    const actions = (s: any): string[] => [].concat(s.Action);
    expect(statements(false).flatMap(actions).filter((a) => /^(ecr|acm):/.test(a) && a !== 'ecr:GetAuthorizationToken' && !a.startsWith('ecr:BatchGetImage') && !a.startsWith('ecr:GetDownloadUrlForLayer') && !a.startsWith('ecr:BatchCheckLayerAvailability'))).toEqual([]);
    const mine = statements(true);
    const ecr = mine.filter((s) => actions(s).some((a) => a.startsWith('ecr:')));
    expect(ecr).toEqual([
      {
        Effect: 'Allow',
        Action: ['ecr:DescribeImageScanFindings', 'ecr:DescribeImages'],
        Resource: Object.values(config.services)
          .map((s) => `arn:aws:ecr:${config.region}:${config.account}:repository/${s.repositoryName}`)
          .sort(),
      },
    ].map((s) => ({ ...s, Resource: expect.arrayContaining(s.Resource) })));
    const acm = mine.filter((s) => actions(s).some((a) => a.startsWith('acm:')));
    expect(acm).toEqual([{ Effect: 'Allow', Action: 'acm:DescribeCertificate', Resource: stage.stateless.resolve(stage.stateless.loadBalancer.certificates[0].certificateArn) }]);
    expect(mine.some((s) => s.Resource === '*' && actions(s).some((a) => /^(ecr|acm):/.test(a)))).toBe(false);
    // Enhanced scanning (Amazon Inspector): DescribeImageScanFindings needs inspector2:ListFindings of its caller.
    // (CDK merges it with the role's other `*` statements: VPC networking and X-Ray.)
    const inspector = mine.filter((s) => actions(s).some((a) => a.startsWith('inspector2:')));
    expect(inspector.map((s) => ({ resource: s.Resource, actions: actions(s).filter((a) => a.startsWith('inspector2:')) }))).toEqual([{ resource: '*', actions: ['inspector2:ListFindings'] }]);
  });

  test('THEN the preflight checks function knows the repositories, the certificates and the scan policy', () => {
    const { stage } = synthEnvironment(name);
    const id = stage.stateless.getLogicalId(stage.stateless.release.preflightChecksHandler!.function.node.defaultChild as CfnElement);
    const vars = stateless.toJSON().Resources[id].Properties.Environment.Variables;
    expect(JSON.parse(vars.IMAGE_REPOSITORIES)).toEqual(Object.fromEntries(Object.entries(ENVIRONMENTS[name].services).map(([s, c]) => [s, c.repositoryName])));
    expect(vars.CERTIFICATE_ARNS).toEqual(stage.stateless.resolve(stage.stateless.loadBalancer.certificates[0].certificateArn));
    expect(vars.IMAGE_SCAN === undefined ? undefined : JSON.parse(vars.IMAGE_SCAN)).toEqual(policy.imageScan);
  });

  test('THEN the DatabaseTask output names the migrating service, its migration task definitions, security group and log group; DatabaseNetwork of the stateful stack the subnets and the database', () => {
    const outputs = stateless.findOutputs('DatabaseTask');
    const procedures = ENVIRONMENTS[name].database.procedures ? ['DatabaseTask'] : [];
    expect(Object.keys(outputs)).toEqual(procedures);
    const text = JSON.stringify(outputs.DatabaseTask?.Value ?? '');
    for (const key of ['service', 'taskDefinitions', 'containerName', 'securityGroups', 'logGroupName']) expect(text).toContain(key);
    expect(text).not.toContain('Fn::ImportValue');
    expect(text).toMatch(/BackendBlueMigrationTask/);
    expect(text).toMatch(/BackendGreenMigrationTask/);
    const network = synthEnvironment(name).stateful.findOutputs('DatabaseNetwork');
    expect(Object.keys(network)).toEqual(procedures.length ? ['DatabaseNetwork'] : []);
    const net = JSON.stringify(network.DatabaseNetwork?.Value ?? '');
    if (procedures.length) for (const ref of ['subnets', 'NetworkVpcPrivateSubnet1', 'databaseInstanceId', 'DatabasePrimary']) expect(net).toContain(ref);
  });

  test('THEN it is a Standard state machine with logging of all events and X-Ray tracing', () => {
    const [[, sm]] = resourcesOf(stateless, 'AWS::StepFunctions::StateMachine');
    expect(sm.Properties.StateMachineType ?? 'STANDARD').toBe('STANDARD');
    expect(sm.Properties.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: true });
    expect(sm.Properties.TracingConfiguration).toEqual({ Enabled: true });
    stateless.hasOutput('ReleaseStateMachineArn', {});
  });
});

describe('production: watched bakes', () => {
  const template = synthEnvironment('production').stateless;
  const crashConfig = ENVIRONMENTS.production.monitoring.crash;
  describe('the watched bakes of the release state machine', () => {
    const definition = definitionFromTemplate(template);
    const policy = ENVIRONMENTS.production.release;

    /** The Bake loop alone, run locally: the poll answered by `watch`, Gate a success, SafeState a failure. */
    async function runBake(watch: (input: any, poll: number) => unknown): Promise<{ end: string; states: string[]; polls: number }> {
      const ids = ['Bake', 'BakeWait', 'BakeWatch', 'BakeDone?', 'BakePollFailed', 'BakeTooManyFailedPolls?', 'BakeUnwatched'];
      const states: Record<string, any> = JSON.parse(JSON.stringify(Object.fromEntries(ids.map((id) => [id, definition.States[id]]))));
      // aws-local-stepfunctions has no $$.State.EnteredTime (the rehearsal substitutes it too).
      delete states.Bake.Parameters['since.$'];
      states.Bake.Parameters.since = '2030-01-01T00:00:00.000Z';
      states.Gate = { Type: 'Succeed' };
      states.SafeState = { Type: 'Fail', Error: 'SafeState' };
      const machine = new StateMachine({ StartAt: 'Bake', States: states } as any, { validationOptions: { checkArn: false, checkPaths: true } });
      let polls = 0;
      const exec = machine.run({ release: {} } as any, {
        overrides: {
          // payloadResponseOnly: the Task's Resource is the function itself, its input the payload, its output the result.
          taskResourceLocalHandlers: { BakeWatch: async (i: any) => (await watch(i, ++polls)) as any },
          waitTimeOverrides: { BakeWait: 0, BakeUnwatched: 0 },
        },
      });
      const seen: string[] = [];
      const collecting = (async () => {
        for await (const ev of exec.eventLogs as AsyncIterable<any>) if (ev.type === 'StateEntered') seen.push(ev.state.name);
      })().catch(() => undefined);
      const end = await exec.result.then(
        () => 'Gate',
        // SafeState is the only Fail state of this definition.
        (e: any) => (/because of a Fail state/.test(String(e)) ? 'SafeState' : `error ${String(e)}`),
      );
      await Promise.race([collecting, new Promise((r) => setTimeout(r, 50))]);
      return { end, states: seen, polls };
    }
    const failing = (name: string) => Object.assign(new Error(`${name} from the poll`), { name });

    test('a poll that fails for another reason than CandidateUnhealthy is counted, not a rollback: the next poll goes on; three failures finish the bake unwatched → Gate', async () => {
      const flaky = await runBake((input, poll) => {
        if (poll === 1) throw failing('ThrottlingException');
        return { ...input.watch, done: true };
      });
      expect(flaky).toEqual({ end: 'Gate', states: expect.arrayContaining(['BakePollFailed', 'BakeTooManyFailedPolls?']), polls: 2 });
      expect(flaky.states).not.toContain('BakeUnwatched');

      const down = await runBake(() => {
        throw failing('Sandbox.Timedout');
      });
      expect(down.end).toBe('Gate');
      expect(down.polls).toBe(BAKE_POLL_ERRORS);
      expect(down.states).toContain('BakeUnwatched');
    });

    test('CandidateUnhealthy from a poll goes to SafeState (the rollback)', async () => {
      const r = await runBake(() => {
        throw failing('CandidateUnhealthy');
      });
      expect(r.end).toBe('SafeState');
      expect(r.states).not.toContain('BakePollFailed');
    });

    test.each([
      ['Bake', policy.bakeSeconds, 'Gate'],
      ['FinalBake', policy.finalBakeSeconds, 'FinalGate'],
      ['RollbackWindow', policy.rollbackWindowSeconds, 'WindowGate'],
    ])('%s of %d s: start the clock, wait, watch (CandidateUnhealthy to SafeState, other failures counted), done → %s', (id, seconds, next) => {
      const s = definition.States;
      expect(s[id]).toMatchObject({ Type: 'Pass', ResultPath: '$.watch', Next: `${id}Wait` });
      expect(s[id].Parameters).toEqual({ 'since.$': '$$.State.EnteredTime', seconds, percent: ENVIRONMENTS.production.monitoring.unhealthyTargetsPercent, polls: crashConfig.unhealthyPolls, strikes: 0, errors: { n: 0 } });
      expect(s[`${id}Wait`]).toEqual({ Type: 'Wait', Seconds: crashConfig.pollSeconds, Next: `${id}Watch` });
      const watch = s[`${id}Watch`];
      expect(watch).toMatchObject({ Type: 'Task', ResultPath: '$.watch', TimeoutSeconds: 120, Next: `${id}Done?` });
      expect(watch.Parameters).toEqual({ step: 'watch', 'release.$': '$.release', 'watch.$': '$.watch' });
      // Only the watch's verdict rolls back; any other failure of a poll is counted and the bake goes on.
      expect(watch.Catch).toEqual([
        { ErrorEquals: ['CandidateUnhealthy'], ResultPath: '$.error', Next: 'SafeState' },
        { ErrorEquals: ['States.ALL'], ResultPath: '$.watchError', Next: `${id}PollFailed` },
      ]);
      expect(s[id].Parameters.errors).toEqual({ n: 0 });
      expect(s[`${id}PollFailed`]).toEqual({
        Type: 'Pass',
        Comment: expect.any(String),
        Parameters: { 'n.$': 'States.MathAdd($.watch.errors.n, 1)' },
        ResultPath: '$.watch.errors',
        Next: `${id}TooManyFailedPolls?`,
      });
      expect(s[`${id}TooManyFailedPolls?`]).toEqual({
        Type: 'Choice',
        Choices: [{ Variable: '$.watch.errors.n', NumericGreaterThanEquals: BAKE_POLL_ERRORS, Next: `${id}Unwatched` }],
        Default: `${id}Wait`,
      });
      expect(s[`${id}Unwatched`]).toEqual({ Type: 'Wait', Comment: expect.any(String), Seconds: seconds, Next: next });
      expect(s[`${id}Done?`]).toEqual({ Type: 'Choice', Choices: [{ Variable: '$.watch.done', BooleanEquals: true, Next: next }], Default: `${id}Wait` });
    });

    test('the overall timeout counts one poll past every bake', () => {
      expect(definition.TimeoutSeconds).toBe(stateMachineTimeoutSeconds(policy));
    });

    test.each(Object.keys(ENVIRONMENTS))('%s: the longest execution stays below a third of the 25,000 history events, every judge extension counted', (name) => {
      const c = ENVIRONMENTS[name as keyof typeof ENVIRONMENTS];
      expect(worstCaseHistoryEvents(c.release, c.monitoring.crash.pollSeconds)).toBeLessThan(HISTORY_EVENTS_LIMIT / 3);
    });
  });
});
