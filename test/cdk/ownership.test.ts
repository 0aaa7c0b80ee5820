import { ENVIRONMENTS, type EnvironmentConfig } from '../../config';
import { resourcesOf, synthEnvironment } from './support';

/** Production with a new frontend and backend version on the idle color (green), as the release workflow does. */
function withNewIdleVersion(c: EnvironmentConfig): EnvironmentConfig {
  const services = Object.fromEntries(
    Object.entries(c.services).map(([name, s]) => [name, { ...s, colors: { ...s.colors, green: { version: '2.0.0' } } }]),
  ) as unknown as EnvironmentConfig['services'];
  return { ...c, services };
}

/** Production with other config changes that must not reach weights or counts either. */
function withOtherChanges(c: EnvironmentConfig): EnvironmentConfig {
  return {
    ...c,
    logRetentionDays: 180,
    services: {
      ...c.services,
      backend: { ...c.services.backend, desiredCount: 3, autoscaling: { minCapacity: 3, maxCapacity: 8, targetCpuPercent: 50 } },
    },
  };
}

const props = (t: ReturnType<typeof synthEnvironment>['stateless'], type: string) =>
  Object.fromEntries(resourcesOf(t, type).map(([id, r]) => [id, r.Properties]));

describe('weights and task counts belong to traffic control, not to CloudFormation', () => {
  const before = synthEnvironment('production').stateless;

  test('GIVEN any environment THEN no ECS service declares a DesiredCount and no scalable target is a stack resource', () => {
    for (const name of Object.keys(ENVIRONMENTS) as (keyof typeof ENVIRONMENTS)[]) {
      const { stateless } = synthEnvironment(name);
      for (const [, s] of resourcesOf(stateless, 'AWS::ECS::Service')) expect(s.Properties.DesiredCount).toBeUndefined();
      stateless.resourceCountIs('AWS::ApplicationAutoScaling::ScalableTarget', 0);
    }
  });

  test('GIVEN a new version for the idle color WHEN synthesized THEN the weighted rules and counts resources are unchanged', () => {
    const after = synthEnvironment('production', withNewIdleVersion).stateless;
    expect(props(after, 'Custom::WeightedListenerRule')).toEqual(props(before, 'Custom::WeightedListenerRule'));
    expect(props(after, 'Custom::ServiceCounts')).toEqual(props(before, 'Custom::ServiceCounts'));
    // Only the green task definitions see the new image.
    const changed = Object.entries(props(after, 'AWS::ECS::TaskDefinition'))
      .filter(([id, p]) => JSON.stringify(p) !== JSON.stringify(props(before, 'AWS::ECS::TaskDefinition')[id]))
      .map(([id]) => id)
      .sort();
    // Green's task definitions only: the service's and, for the backend, the migration task (same image).
    expect(changed).toEqual([expect.stringMatching(/^BackendGreenMigrationTask/), expect.stringMatching(/^BackendGreenTask/), expect.stringMatching(/^FrontendGreenTask/)]);
  });

  test('GIVEN other config changes (counts, autoscaling bounds, retention) WHEN synthesized THEN the weighted rules are unchanged and counts are only bounds for colors in service', () => {
    const after = synthEnvironment('production', withOtherChanges).stateless;
    expect(props(after, 'Custom::WeightedListenerRule')).toEqual(props(before, 'Custom::WeightedListenerRule'));
    const counts = Object.values(props(after, 'Custom::ServiceCounts')).find((p) => JSON.stringify(p).includes('Backend'))!;
    // The new bounds travel as `Scaling` (applied on update only to colors with max > 0); starting counts
    // are used on create only (lambda/custom-resources/service-counts.ts).
    expect(counts.Colors.blue.Scaling).toEqual({ MinCapacity: 3, MaxCapacity: 8 });
    expect(counts.Colors.green.InitialScaling).toEqual({ MinCapacity: 0, MaxCapacity: 0 });
  });

  test('GIVEN the stack THEN every task definition waits for the live image guard', () => {
    const [[guardId, guard]] = resourcesOf(before, 'Custom::LiveImageGuard');
    expect(guard.Properties.Services.frontend.Versions).toEqual({ blue: '1.0.0', green: '1.0.0' });
    const taskDefs = resourcesOf(before, 'AWS::ECS::TaskDefinition');
    // Four services' task definitions and the backend's two migration tasks: all carry an image version.
    expect(taskDefs).toHaveLength(6);
    for (const [, td] of taskDefs) expect(td.DependsOn).toContain(guardId);
  });

  test('GIVEN a new idle version THEN the guard receives the old and new versions to compare', () => {
    const after = synthEnvironment('production', withNewIdleVersion).stateless;
    const [[, guard]] = resourcesOf(after, 'Custom::LiveImageGuard');
    expect(guard.Properties.Services.backend.Versions).toEqual({ blue: '1.0.0', green: '2.0.0' });
    expect(guard.Properties.Environment).toBe('production');
  });
});

describe('cross-stack references', () => {
  test.each(Object.keys(ENVIRONMENTS) as (keyof typeof ENVIRONMENTS)[])(
    'GIVEN %s THEN no stack output re-exports an import of another stack (cfn-lint W6001; the CI lint fails on it)',
    (name) => {
      const templates = synthEnvironment(name);
      for (const stack of ['stateful', 'stateless', 'monitoring'] as const) {
        const outputs = templates[stack].toJSON().Outputs ?? {};
        const reexports = Object.entries(outputs).filter(([, o]) => JSON.stringify((o as { Value: unknown }).Value).includes('Fn::ImportValue'));
        expect({ stack, reexports: reexports.map(([id]) => id) }).toEqual({ stack, reexports: [] });
      }
    },
  );
});
