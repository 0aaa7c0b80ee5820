/**
 * Custom::ServiceCounts with mocked ECS and Application Auto Scaling: starting counts once, bounds only
 * for colors in service, a first target for colors that had none when autoscaling is added.
 */
import {
  ApplicationAutoScalingClient,
  DeregisterScalableTargetCommand,
  DescribeScalableTargetsCommand,
  RegisterScalableTargetCommand,
} from '@aws-sdk/client-application-auto-scaling';
import { DescribeServicesCommand, ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { handleServiceCounts, parseServiceCountsProps } from '../../lambda/custom-resources/service-counts';
import { logger } from '../../lambda/traffic/logger';
import { countsProps, createEvent, deleteEvent, updateEvent } from './events';

logger.setLogLevel('SILENT');
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const TYPE = 'Custom::ServiceCounts';
const CLUSTER = 'dev-cluster';
const BLUE_ID = `service/${CLUSTER}/fe-blue`;
const GREEN_ID = `service/${CLUSTER}/fe-green`;
const PHYSICAL_ID = 'Counts-counts';
const DIMENSION = { ServiceNamespace: 'ecs', ScalableDimension: 'ecs:service:DesiredCount' };

const props = (o: Partial<Parameters<typeof countsProps>[0]> = {}) =>
  countsProps({ clusterName: CLUSTER, blueService: 'fe-blue', greenService: 'fe-green', desiredCount: '3', scaling: { min: '2', max: '6' }, ...o });

const ecsMock = mockClient(ECSClient);
const aasMock = mockClient(ApplicationAutoScalingClient);
const clients = { ecs: new ECSClient({ region: 'us-east-1' }), autoscaling: new ApplicationAutoScalingClient({ region: 'us-east-1' }) };

const inputs = (mock: typeof ecsMock | typeof aasMock, command: any) => mock.commandCalls(command).map((c: any) => c.args[0].input);
const notFound = () => Object.assign(new Error('No scalable target registered'), { name: 'ObjectNotFoundException', $metadata: { httpStatusCode: 400 } });

function scalableTargets(targets: Record<string, [number, number] | undefined>) {
  for (const [id, b] of Object.entries(targets)) {
    aasMock
      .on(DescribeScalableTargetsCommand, { ResourceIds: [id] })
      .resolves({ ScalableTargets: b ? [{ ...DIMENSION, ResourceId: id, MinCapacity: b[0], MaxCapacity: b[1], RoleARN: 'r', CreationTime: new Date() }] : [] } as any);
  }
}

beforeEach(() => {
  ecsMock.reset();
  aasMock.reset();
  ecsMock.on(UpdateServiceCommand).resolves({});
  aasMock.on(RegisterScalableTargetCommand).resolves({});
  aasMock.on(DeregisterScalableTargetCommand).resolves({});
});

afterAll(() => {
  ecsMock.restore();
  aasMock.restore();
});

describe('GIVEN a Create request with autoscaling', () => {
  test('WHEN handled THEN blue gets desired 3 and bounds 2/6, green desired 0 and bounds 0/0, each target registered before its count', async () => {
    const order: string[] = [];
    aasMock.on(RegisterScalableTargetCommand).callsFake((i) => void order.push(`register ${i.ResourceId}`));
    ecsMock.on(UpdateServiceCommand).callsFake((i) => void order.push(`update ${i.service}`));

    const result = await handleServiceCounts(createEvent(TYPE, props(), 'Counts'), clients);

    expect(inputs(aasMock, RegisterScalableTargetCommand)).toEqual([
      { ...DIMENSION, ResourceId: BLUE_ID, MinCapacity: 2, MaxCapacity: 6 },
      { ...DIMENSION, ResourceId: GREEN_ID, MinCapacity: 0, MaxCapacity: 0 },
    ]);
    expect(inputs(ecsMock, UpdateServiceCommand)).toEqual([
      { cluster: CLUSTER, service: 'fe-blue', desiredCount: 3 },
      { cluster: CLUSTER, service: 'fe-green', desiredCount: 0 },
    ]);
    expect(order).toEqual([`register ${BLUE_ID}`, 'update fe-blue', `register ${GREEN_ID}`, 'update fe-green']);
    expect(result).toEqual({ physicalResourceId: PHYSICAL_ID });
  });

  test('WHEN the environment has no autoscaling THEN only the desired counts are set', async () => {
    await handleServiceCounts(createEvent(TYPE, props({ scaling: undefined, desiredCount: '1' }), 'Counts'), clients);

    expect(aasMock.calls()).toHaveLength(0);
    expect(inputs(ecsMock, UpdateServiceCommand)).toEqual([
      { cluster: CLUSTER, service: 'fe-blue', desiredCount: 1 },
      { cluster: CLUSTER, service: 'fe-green', desiredCount: 0 },
    ]);
  });
});

describe('GIVEN an Update with new config bounds 3/10', () => {
  const next = () => props({ scaling: { min: '3', max: '10' }, desiredCount: '5' });

  test('WHEN blue is in service (2/6) and green was scaled to 0/0 THEN only blue is re-registered, at 3/10, and no desired count is touched', async () => {
    scalableTargets({ [BLUE_ID]: [2, 6], [GREEN_ID]: [0, 0] });

    const result = await handleServiceCounts(updateEvent(TYPE, PHYSICAL_ID, next(), props()), clients);

    expect(inputs(aasMock, RegisterScalableTargetCommand)).toEqual([{ ...DIMENSION, ResourceId: BLUE_ID, MinCapacity: 3, MaxCapacity: 10 }]);
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
    expect(result).toEqual({ physicalResourceId: PHYSICAL_ID });
  });

  test('WHEN mid-release both colors are in service THEN both get the new bounds and still no UpdateService', async () => {
    scalableTargets({ [BLUE_ID]: [2, 6], [GREEN_ID]: [2, 6] });

    await handleServiceCounts(updateEvent(TYPE, PHYSICAL_ID, next(), props()), clients);

    expect(inputs(aasMock, RegisterScalableTargetCommand).map((i: any) => [i.ResourceId, i.MinCapacity, i.MaxCapacity])).toEqual([
      [BLUE_ID, 3, 10],
      [GREEN_ID, 3, 10],
    ]);
    expect(ecsMock.calls()).toHaveLength(0);
  });

  test('WHEN after a promote blue is 0/0 and green in service THEN only green is re-registered', async () => {
    scalableTargets({ [BLUE_ID]: [0, 0], [GREEN_ID]: [2, 6] });

    await handleServiceCounts(updateEvent(TYPE, PHYSICAL_ID, next(), props()), clients);

    expect(inputs(aasMock, RegisterScalableTargetCommand).map((i: any) => i.ResourceId)).toEqual([GREEN_ID]);
  });

  test('WHEN both colors have a scalable target THEN no service is described', async () => {
    scalableTargets({ [BLUE_ID]: [2, 6], [GREEN_ID]: [0, 0] });

    await handleServiceCounts(updateEvent(TYPE, PHYSICAL_ID, next(), props()), clients);

    expect(ecsMock.calls()).toHaveLength(0);
  });

  test('WHEN the environment has no autoscaling THEN the update makes no call at all', async () => {
    await handleServiceCounts(updateEvent(TYPE, PHYSICAL_ID, props({ scaling: undefined, desiredCount: '9' }), props({ scaling: undefined })), clients);

    expect(aasMock.calls()).toHaveLength(0);
    expect(ecsMock.calls()).toHaveLength(0);
  });
});

describe('GIVEN an Update that switches autoscaling on for an environment created without it', () => {
  const before = () => props({ scaling: undefined });
  const next = () => props({ scaling: { min: '3', max: '10' } });
  const services = (counts: Record<string, number>) => {
    for (const [name, desiredCount] of Object.entries(counts)) {
      ecsMock.on(DescribeServicesCommand, { services: [name] }).resolves({ services: [{ serviceName: name, desiredCount, status: 'ACTIVE' }], failures: [] });
    }
  };

  test('WHEN blue is in service (3 tasks) and green idle (0) THEN blue is registered at 3/10, green at 0/0, and no desired count is touched', async () => {
    scalableTargets({ [BLUE_ID]: undefined, [GREEN_ID]: undefined });
    services({ 'fe-blue': 3, 'fe-green': 0 });

    const result = await handleServiceCounts(updateEvent(TYPE, PHYSICAL_ID, next(), before()), clients);

    expect(inputs(aasMock, RegisterScalableTargetCommand)).toEqual([
      { ...DIMENSION, ResourceId: BLUE_ID, MinCapacity: 3, MaxCapacity: 10 },
      { ...DIMENSION, ResourceId: GREEN_ID, MinCapacity: 0, MaxCapacity: 0 },
    ]);
    expect(inputs(ecsMock, DescribeServicesCommand)).toEqual([
      { cluster: CLUSTER, services: ['fe-blue'] },
      { cluster: CLUSTER, services: ['fe-green'] },
    ]);
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
    expect(result).toEqual({ physicalResourceId: PHYSICAL_ID });
  });

  test('WHEN traffic control promoted green (blue 0, green 4) THEN blue gets 0/0 and green 3/10', async () => {
    scalableTargets({ [BLUE_ID]: undefined, [GREEN_ID]: undefined });
    services({ 'fe-blue': 0, 'fe-green': 4 });

    await handleServiceCounts(updateEvent(TYPE, PHYSICAL_ID, next(), before()), clients);

    expect(inputs(aasMock, RegisterScalableTargetCommand).map((i: any) => [i.ResourceId, i.MinCapacity, i.MaxCapacity])).toEqual([
      [BLUE_ID, 0, 0],
      [GREEN_ID, 3, 10],
    ]);
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  test('WHEN mid-release both colors run tasks THEN both get 3/10', async () => {
    scalableTargets({ [BLUE_ID]: undefined, [GREEN_ID]: undefined });
    services({ 'fe-blue': 3, 'fe-green': 1 });

    await handleServiceCounts(updateEvent(TYPE, PHYSICAL_ID, next(), before()), clients);

    expect(inputs(aasMock, RegisterScalableTargetCommand).map((i: any) => [i.ResourceId, i.MinCapacity, i.MaxCapacity])).toEqual([
      [BLUE_ID, 3, 10],
      [GREEN_ID, 3, 10],
    ]);
  });

  test('WHEN only green lacks a target (blue 2/6 kept, green idle) THEN blue gets the config bounds as before, green 0/0, and only green is described', async () => {
    scalableTargets({ [BLUE_ID]: [2, 6], [GREEN_ID]: undefined });
    services({ 'fe-green': 0 });

    await handleServiceCounts(updateEvent(TYPE, PHYSICAL_ID, next(), before()), clients);

    expect(inputs(aasMock, RegisterScalableTargetCommand).map((i: any) => [i.ResourceId, i.MinCapacity, i.MaxCapacity])).toEqual([
      [BLUE_ID, 3, 10],
      [GREEN_ID, 0, 0],
    ]);
    expect(inputs(ecsMock, DescribeServicesCommand)).toEqual([{ cluster: CLUSTER, services: ['fe-green'] }]);
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  test('WHEN an existing target is at 0/0 and the other has none but is in service THEN 0/0 stays and the other gets 3/10', async () => {
    scalableTargets({ [BLUE_ID]: undefined, [GREEN_ID]: [0, 0] });
    services({ 'fe-blue': 3 });

    await handleServiceCounts(updateEvent(TYPE, PHYSICAL_ID, next(), before()), clients);

    expect(inputs(aasMock, RegisterScalableTargetCommand).map((i: any) => [i.ResourceId, i.MinCapacity, i.MaxCapacity])).toEqual([[BLUE_ID, 3, 10]]);
    expect(inputs(ecsMock, DescribeServicesCommand)).toEqual([{ cluster: CLUSTER, services: ['fe-blue'] }]);
  });

  test('WHEN the service is missing (DescribeServices failure) THEN the update fails naming it and registers nothing for it', async () => {
    scalableTargets({ [BLUE_ID]: undefined, [GREEN_ID]: undefined });
    ecsMock
      .on(DescribeServicesCommand)
      .resolves({ services: [], failures: [{ arn: `arn:aws:ecs:us-east-1:123456789012:service/${CLUSTER}/fe-blue`, reason: 'MISSING' }] });

    await expect(handleServiceCounts(updateEvent(TYPE, PHYSICAL_ID, next(), before()), clients)).rejects.toThrow(
      /service fe-blue in cluster dev-cluster not found \(MISSING\)/,
    );
    expect(aasMock.commandCalls(RegisterScalableTargetCommand)).toHaveLength(0);
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });
});

describe('GIVEN a Delete request', () => {
  test('WHEN handled THEN both scalable targets are deregistered and no count is touched', async () => {
    const result = await handleServiceCounts(deleteEvent(TYPE, PHYSICAL_ID, props()), clients);

    expect(inputs(aasMock, DeregisterScalableTargetCommand)).toEqual([
      { ...DIMENSION, ResourceId: BLUE_ID },
      { ...DIMENSION, ResourceId: GREEN_ID },
    ]);
    expect(ecsMock.calls()).toHaveLength(0);
    expect(result).toEqual({ physicalResourceId: PHYSICAL_ID });
  });

  test('WHEN a target is already gone (ObjectNotFoundException) THEN the delete succeeds and still deregisters the other', async () => {
    aasMock.on(DeregisterScalableTargetCommand, { ResourceId: BLUE_ID }).rejects(notFound());

    await expect(handleServiceCounts(deleteEvent(TYPE, PHYSICAL_ID, props()), clients)).resolves.toEqual({ physicalResourceId: PHYSICAL_ID });
    expect(aasMock.commandCalls(DeregisterScalableTargetCommand)).toHaveLength(2);
  });

  test('WHEN deregistering fails otherwise (AccessDeniedException) THEN the delete fails', async () => {
    aasMock.on(DeregisterScalableTargetCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } }));

    await expect(handleServiceCounts(deleteEvent(TYPE, PHYSICAL_ID, props()), clients)).rejects.toThrow('denied');
  });

  test('WHEN the environment has no autoscaling THEN the delete makes no call', async () => {
    await handleServiceCounts(deleteEvent(TYPE, PHYSICAL_ID, props({ scaling: undefined })), clients);

    expect(aasMock.calls()).toHaveLength(0);
  });

  test('WHEN it follows a Create that failed on unparseable properties (failed-<RequestId>) THEN the delete succeeds without calls', async () => {
    const result = await handleServiceCounts(deleteEvent(TYPE, 'failed-req-create-1', { ...props(), ClusterName: '' }), clients);

    expect(result).toEqual({ physicalResourceId: 'failed-req-create-1' });
    expect(aasMock.calls()).toHaveLength(0);
    expect(ecsMock.calls()).toHaveLength(0);
  });
});

describe('GIVEN invalid properties', () => {
  const base = props();
  const colors = base.Colors as any;
  const withBlue = (blue: Record<string, unknown>) => ({ ...base, Colors: { ...colors, blue: { ...colors.blue, ...blue } } });
  const invalid: Array<[string, Record<string, unknown>, RegExp]> = [
    ['ClusterName is missing', { ...base, ClusterName: undefined }, /property ClusterName must be a non-empty string/],
    ['Colors is missing', { ...base, Colors: undefined }, /Colors\.blue\.ServiceName/],
    ['InitialDesiredCount is not numeric', withBlue({ InitialDesiredCount: 'three' }), /Colors\.blue\.InitialDesiredCount must be a whole number, got "three"/],
    ['InitialDesiredCount is empty (Number("") would be 0)', withBlue({ InitialDesiredCount: '' }), /Colors\.blue\.InitialDesiredCount must be a whole number/],
    ['InitialDesiredCount is negative', withBlue({ InitialDesiredCount: '-1' }), /Colors\.blue\.InitialDesiredCount must be at least 0/],
    ['MaxCapacity is not numeric', withBlue({ Scaling: { MinCapacity: '1', MaxCapacity: 'many' } }), /Colors\.blue\.Scaling\.MaxCapacity must be a whole number/],
    ['MinCapacity exceeds MaxCapacity', withBlue({ InitialScaling: { MinCapacity: '7', MaxCapacity: '6' } }), /Colors\.blue\.InitialScaling must have MinCapacity <= MaxCapacity/],
  ];

  test.each(invalid)('WHEN %s THEN the Create fails naming the property and makes no call', async (_what, bad, message) => {
    await expect(handleServiceCounts(createEvent(TYPE, bad, 'Counts'), clients)).rejects.toThrow(message);
    expect(ecsMock.calls()).toHaveLength(0);
    expect(aasMock.calls()).toHaveLength(0);
  });

  test('WHEN an Update has invalid properties THEN it fails naming the property and makes no call', async () => {
    await expect(handleServiceCounts(updateEvent(TYPE, PHYSICAL_ID, withBlue({ Scaling: { MinCapacity: 'x', MaxCapacity: '6' } }), props()), clients)).rejects.toThrow(
      /Colors\.blue\.Scaling\.MinCapacity/,
    );
    expect(aasMock.calls()).toHaveLength(0);
  });

  test('WHEN the properties are strings THEN they parse to numbers', () => {
    expect(parseServiceCountsProps(props()).colors).toEqual({
      blue: { serviceName: 'fe-blue', initialDesiredCount: 3, initialScaling: { minCapacity: 2, maxCapacity: 6 }, scaling: { minCapacity: 2, maxCapacity: 6 } },
      green: { serviceName: 'fe-green', initialDesiredCount: 0, initialScaling: { minCapacity: 0, maxCapacity: 0 }, scaling: { minCapacity: 2, maxCapacity: 6 } },
    });
  });
});
