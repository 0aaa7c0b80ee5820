/**
 * Issue 10: the traffic core and `traffic status` read the services from the topology. A three-service environment in
 * moto: status shows the third service with its own live and idle color, a shift moves all three, and a shift of a
 * service the environment does not have is refused, naming the ones it has.
 */
import { DescribeServicesCommand } from '@aws-sdk/client-ecs';
import { formatStatus } from '../../cli/format';
import { acquireLock, GuardRefused, logger, readDesiredCounts, readState, shift, TrafficClients, TrafficContext } from '../../lambda/traffic';
import { Fixture, useMotoFixture } from '../support/fixture';

jest.setTimeout(60000);
logger.setLogLevel('SILENT');

let clients: TrafficClients;
let fx: Fixture;
let ctx: TrafficContext;

useMotoFixture(
  (s) => {
    ({ clients, fx } = s);
    ctx = { clients, topology: fx.topology, retry: { sleep: async () => undefined } };
  },
  { services: ['frontend', 'backend', 'search'] },
);

describe('GIVEN an environment of three services in moto', () => {
  test('WHEN reading status THEN the third service is shown with both colors, its live and idle color and version', async () => {
    const state = await readState(ctx);
    expect(Object.keys(state.services)).toEqual(['frontend', 'backend', 'search']);
    expect(state.services.search).toMatchObject({ liveColor: 'blue', idleColor: 'green', weights: { blue: 100, green: 0 } });
    const text = formatStatus(state, 'dev');
    expect(text).toMatch(/search\s+blue\s+live\s+100\s+100%/);
    expect(text).toMatch(/search\s+green\s+idle\s+0\s+0%/);
    expect(text).toContain('config/dev.ts → services.search.colors.green.version');
  });

  test('WHEN shifting THEN every service moves, the third included, verified by read-back', async () => {
    await acquireLock(ctx, 'test:owner');
    const r = await shift(ctx, { target: { to: 'green', percent: 10 }, owner: 'test:owner', actor: 'test' });
    expect(Object.keys(r.weightsAfter)).toEqual(['frontend', 'backend', 'search']);
    expect(r.weightsAfter.search).toEqual({ blue: 90, green: 10 });
  });

  test('fails WHEN shifting a service the environment does not have THEN the refusal names the ones it has', async () => {
    await expect(shift(ctx, { target: { to: 'green', percent: 10 }, owner: 'test:owner', actor: 'test', service: 'payments' })).rejects.toThrow(GuardRefused);
    await expect(shift(ctx, { target: { to: 'green', percent: 10 }, owner: 'test:owner', actor: 'test', service: 'payments' })).rejects.toThrow(
      'service must be one of frontend, backend, search, got "payments"',
    );
  });

  test('WHEN reading desired counts of six services THEN DescribeServices is asked for at most 10 per call (its limit)', async () => {
    // Six services (12 ECS services) over the fixture's three: the core must batch, moto would not refuse 12.
    const services = Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f'].map((n) => [n, fx.topology.services.frontend]));
    const asked: string[][] = [];
    const ecs = { send: async (cmd: DescribeServicesCommand) => (asked.push(cmd.input.services!), { services: [] }) };
    const counts = await readDesiredCounts({ ...ctx, clients: { ...clients, ecs } as never, topology: { ...fx.topology, services } });
    expect(Object.keys(counts)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(asked.map((names) => names.length)).toEqual([10, 2]);
  });
});
