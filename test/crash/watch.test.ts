/** The bake's watch step (lambda/release/watch.ts): the pure judge and one poll with aws-sdk-client-mock. */
import { DescribeTargetHealthCommand, ElasticLoadBalancingV2Client, TargetHealthStateEnum } from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { judgeTargets, watch, WatchState } from '../../lambda/release/watch';
import { validateStepEvent } from '../../lambda/release/validate';
import { CandidateUnhealthy } from '../../lambda/release/errors';
import { topology } from '../lambda/helpers';

const target = (State: TargetHealthStateEnum | string) => ({ Target: { Id: '10.0.0.1', AvailabilityZone: 'us-east-1a' }, TargetHealth: { State: State as TargetHealthStateEnum } });

describe('judgeTargets', () => {
  test('a service with unhealthy targets at or above the percent is bad; initial and draining targets are no failure', () => {
    expect(judgeTargets({ frontend: [target('healthy'), target('unhealthy')] }, 50)).toEqual(['frontend 1/2 unhealthy']);
    expect(judgeTargets({ frontend: [target('healthy'), target('healthy'), target('unhealthy')] }, 50)).toEqual([]);
    expect(judgeTargets({ frontend: [target('healthy'), target('initial'), target('draining'), target('draining')] }, 50)).toEqual([]);
  });

  test('a service with no target left (all crashed and deregistered) is bad: nothing serves its share', () => {
    expect(judgeTargets({ backend: [target('draining')] }, 50)).toEqual(['backend 0/0 unhealthy']);
  });
});

describe('watch (one poll)', () => {
  const elbv2 = mockClient(ElasticLoadBalancingV2Client);
  const release = { candidate: 'green', stable: 'blue' } as never;
  const since = '2030-01-01T00:00:00.000Z';
  const w: WatchState = { since, seconds: 300, percent: 50, polls: 2, strikes: 0 };
  const ctx = (nowIso: string) => ({ clients: { elbv2 } as never, topology, settings: {} as never, release: {} as never, retry: { sleep: async () => undefined }, now: () => new Date(nowIso) });
  beforeEach(() => elbv2.reset());

  test('reads the NEW color\'s target group of every service, and says done once the bake time has passed', async () => {
    elbv2.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: [target('healthy')] });
    await expect(watch(ctx('2030-01-01T00:02:00.000Z') as never, release, w)).resolves.toEqual({ ...w, strikes: 0, done: false });
    const arns = elbv2.commandCalls(DescribeTargetHealthCommand).map((c) => c.args[0].input.TargetGroupArn);
    expect(arns.sort()).toEqual(Object.values(topology.services).map((s) => s.colors.green.targetGroupArn).sort());
    await expect(watch(ctx('2030-01-01T00:05:00.000Z') as never, release, w)).resolves.toMatchObject({ done: true });
  });

  test('one bad poll is a strike; the second in a row throws CandidateUnhealthy; a good poll clears the strikes', async () => {
    elbv2.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: [target('unhealthy')] });
    const first = await watch(ctx('2030-01-01T00:00:10.000Z') as never, release, w);
    expect(first).toMatchObject({ strikes: 1, done: false });
    await expect(watch(ctx('2030-01-01T00:00:20.000Z') as never, release, first)).rejects.toThrow(CandidateUnhealthy);
    await expect(watch(ctx('2030-01-01T00:00:20.000Z') as never, release, first)).rejects.toThrow(/green unhealthy in 2 polls in a row: frontend 1\/1 unhealthy/);
    elbv2.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: [target('healthy')] });
    await expect(watch(ctx('2030-01-01T00:00:20.000Z') as never, release, first)).resolves.toMatchObject({ strikes: 0 });
  });

  test('a throttled read is retried by the core\'s policy, not counted as a bad poll', async () => {
    elbv2
      .on(DescribeTargetHealthCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } }))
      .resolves({ TargetHealthDescriptions: [target('healthy')] });
    await expect(watch(ctx('2030-01-01T00:00:10.000Z') as never, release, w)).resolves.toMatchObject({ strikes: 0 });
  });
});

describe('the watch step input', () => {
  test('fails on a watch state that is not the bake loop\'s', () => {
    expect(() => validateStepEvent({ step: 'watch', release: {}, watch: 'x' })).toThrow(/watch must be the bake loop state/);
    expect(() => validateStepEvent({ step: 'watch', release: {}, watch: { since: 'soon', seconds: 1, percent: 50, polls: 2, strikes: 0 } })).toThrow(/watch.since must be an ISO 8601 time/);
    expect(() => validateStepEvent({ step: 'watch', release: {}, watch: { since: '2030-01-01T00:00:00Z', seconds: 1, percent: 500, polls: 2, strikes: 0 } })).toThrow(/watch.percent must be an integer 0–100/);
  });
});
