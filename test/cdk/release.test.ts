import { StateMachine } from 'aws-local-stepfunctions';
import { ENVIRONMENTS, type EnvironmentName } from '../../config';
import { definitionFromTemplate } from '../release/rehearsal';
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

  test('THEN it is a Standard state machine with logging of all events and X-Ray tracing', () => {
    const [[, sm]] = resourcesOf(stateless, 'AWS::StepFunctions::StateMachine');
    expect(sm.Properties.StateMachineType ?? 'STANDARD').toBe('STANDARD');
    expect(sm.Properties.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: true });
    expect(sm.Properties.TracingConfiguration).toEqual({ Enabled: true });
    stateless.hasOutput('ReleaseStateMachineArn', {});
  });
});
