import { App, CfnResource, Stack, Stage } from 'aws-cdk-lib';
import { synthSummary } from '../../lib/synth-summary';
import type { EnvironmentStage } from '../../lib/stage';

/** A stage shaped like EnvironmentStage (three stacks), with `n` resources in each: no full environment to synthesize. */
function stage(app: App, id: string, counts: [number, number, number]): EnvironmentStage {
  const s = new Stage(app, id);
  const [stateful, stateless, monitoring] = (['Stateful', 'Stateless', 'Monitoring'] as const).map((name, i) => {
    const stack = new Stack(s, name);
    for (let r = 0; r < counts[i]; r++) new CfnResource(stack, `Topic${r}`, { type: 'AWS::SNS::Topic' });
    return stack;
  });
  return Object.assign(s, { stateful, stateless, monitoring }) as unknown as EnvironmentStage;
}

test('GIVEN a synthesized app THEN the summary names the stacks, each environment\'s resources per stack, the cdk-nag verdict and the seconds', () => {
  // As lib/app.ts: the built-in schema check costs seconds and is not what this tests.
  const app = new App({ builtinCloudFormationValidation: false });
  const stages = { dev: stage(app, 'Dev', [1, 2, 3]), production: stage(app, 'Production', [4, 5, 6]) };
  app.synth();
  expect(synthSummary(stages, 7.04, 'cdk.out').split('\n')).toEqual([
    'Synthesized 6 stacks of 2 environments to cdk.out in 7.0 s',
    '  Dev         resources (of 500 per stack): Stateful 1, Stateless 2, Monitoring 3',
    '  Production  resources (of 500 per stack): Stateful 4, Stateless 5, Monitoring 6',
    'cdk-nag: AwsSolutions, PCI DSS 3.2.1 and deploy-invariant packs: no unacknowledged findings',
  ]);
});
