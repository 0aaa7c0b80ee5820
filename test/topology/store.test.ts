/**
 * The stored topology (lambda/shared/topology-store.ts) and Custom::TopologyDocument, against moto's DynamoDB with the
 * real SDK client: what the deploy writes is what every handler and the CLI read.
 */
import { BACKEND, FRONTEND } from '../../config/shared';
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { handleTopologyDocument } from '../../lambda/custom-resources/topology-document';
import type { Topology } from '../../lambda/shared/topology';
import { readTopology, TOPOLOGY_ITEM_KEY, topologyLoader, topologyVersion, writeTopology } from '../../lambda/shared/topology-store';
import { toAttributes } from '../../lambda/traffic/dynamo-items';
import { logger } from '../../lambda/traffic/logger';
import { throttlingError } from '../support/instrument';
import { type MotoServer, startMoto } from '../support/moto';
import { createEvent, deleteEvent, updateEvent } from '../custom-resources/events';

logger.setLogLevel('SILENT');

const TABLE = 'dev-lock';
const topology = (environment = 'dev'): Topology => ({
  environment,
  clusterName: 'dev-cluster',
  services: {
    frontend: { listenerRuleArn: 'arn:rule/fe', colors: { blue: { targetGroupArn: 'arn:tg/fe-b', serviceName: 'fe-b' }, green: { targetGroupArn: 'arn:tg/fe-g', serviceName: 'fe-g' } } },
    backend: { listenerRuleArn: 'arn:rule/be', colors: { blue: { targetGroupArn: 'arn:tg/be-b', serviceName: 'be-b' }, green: { targetGroupArn: 'arn:tg/be-g', serviceName: 'be-g' } } },
  },
  lockTableName: TABLE,
  ledgerTableName: 'dev-ledger',
  rollbackAlarmNames: { blue: ['a-b'], green: ['a-g'] },
  minHealthyTargetsPerAz: 1,
  testListener: { port: 8443, colorHeader: 'X-Release-Color', hosts: { frontend: 'dev.example.com', backend: 'api.dev.example.com' }, checks: { frontend: FRONTEND.preTrafficChecks, backend: BACKEND.preTrafficChecks } },
});
const doc = (t: Topology = topology()) => JSON.stringify(t);
const noSleep = { sleep: async () => undefined, random: () => 0 };

let moto: MotoServer;
let ddb: DynamoDBClient;
beforeAll(async () => {
  moto = await startMoto();
  ddb = new DynamoDBClient(moto.clientConfig);
});
afterAll(async () => {
  ddb?.destroy();
  await moto?.stop();
});
beforeEach(async () => {
  await moto.reset();
  await ddb.send(
    new CreateTableCommand({ TableName: TABLE, BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] }),
  );
});

describe('GIVEN Custom::TopologyDocument', () => {
  const props = (d = doc()) => ({ TableName: TABLE, Document: d });

  test('WHEN created THEN the document is stored with its version, which the resource returns', async () => {
    const out = await handleTopologyDocument(createEvent('Custom::TopologyDocument', props()), ddb);
    expect(out).toEqual({ physicalResourceId: `${TABLE}/${TOPOLOGY_ITEM_KEY}`, data: { Version: topologyVersion(doc()) } });
    expect(await readTopology(ddb, TABLE)).toEqual({ topology: topology(), version: topologyVersion(doc()) });
  });

  test('fails WHEN the document is not a valid topology THEN nothing is written and the deploy is told why', async () => {
    await expect(handleTopologyDocument(createEvent('Custom::TopologyDocument', props('{"environment":"dev"}')), ddb)).rejects.toThrow(/TOPOLOGY is invalid[\s\S]*clusterName/);
    expect((await ddb.send(new GetItemCommand({ TableName: TABLE, Key: toAttributes({ pk: TOPOLOGY_ITEM_KEY }) }))).Item).toBeUndefined();
  });

  test('WHEN updated and then rolled back by CloudFormation THEN the old document and version are back', async () => {
    const id = `${TABLE}/${TOPOLOGY_ITEM_KEY}`;
    const changed = doc({ ...topology(), minHealthyTargetsPerAz: 2 });
    await handleTopologyDocument(createEvent('Custom::TopologyDocument', props()), ddb);
    const up = await handleTopologyDocument(updateEvent('Custom::TopologyDocument', id, props(changed), props()), ddb);
    expect(up.data?.Version).toBe(topologyVersion(changed));
    const back = await handleTopologyDocument(updateEvent('Custom::TopologyDocument', id, props(), props(changed)), ddb);
    expect(back.data?.Version).toBe(topologyVersion(doc()));
    expect((await readTopology(ddb, TABLE)).topology.minHealthyTargetsPerAz).toBe(1);
  });

  test('WHEN deleted THEN the item is gone; WHEN the table is already gone THEN delete still succeeds', async () => {
    const id = `${TABLE}/${TOPOLOGY_ITEM_KEY}`;
    await handleTopologyDocument(createEvent('Custom::TopologyDocument', props()), ddb);
    await expect(handleTopologyDocument(deleteEvent('Custom::TopologyDocument', id, props()), ddb)).resolves.toEqual({ physicalResourceId: id });
    await expect(readTopology(ddb, TABLE)).rejects.toThrow(`no topology in table ${TABLE}`);
    await ddb.send(new DeleteTableCommand({ TableName: TABLE }));
    await expect(handleTopologyDocument(deleteEvent('Custom::TopologyDocument', id, props()), ddb)).resolves.toEqual({ physicalResourceId: id });
  });
});

describe('GIVEN a handler loading the stored topology', () => {
  test('fails WHEN TOPOLOGY_TABLE is not set THEN it names the variable', async () => {
    await expect(topologyLoader({ dynamodb: ddb, env: {} })()).rejects.toThrow('TOPOLOGY_TABLE is not set');
  });

  test('fails WHEN the environment was never deployed THEN the error says to deploy the stateless stack', async () => {
    await expect(topologyLoader({ dynamodb: ddb, env: { TOPOLOGY_TABLE: TABLE } })()).rejects.toThrow(/no topology in table dev-lock .*deploy the environment's stateless stack/);
  });

  test('WHEN the stored version is the deployed one THEN it is read once per execution environment', async () => {
    const version = await writeTopology(ddb, TABLE, doc());
    const send = jest.spyOn(ddb, 'send');
    const load = topologyLoader({ dynamodb: ddb, env: { TOPOLOGY_TABLE: TABLE, TOPOLOGY_VERSION: version } });
    expect(await load()).toEqual(topology());
    expect(await load()).toEqual(topology());
    expect(send).toHaveBeenCalledTimes(1);
    send.mockRestore();
  });

  test('WHEN a deploy is in progress (stored version differs) THEN the stored document is used and read again next time', async () => {
    await writeTopology(ddb, TABLE, doc());
    const load = topologyLoader({ dynamodb: ddb, env: { TOPOLOGY_TABLE: TABLE, TOPOLOGY_VERSION: 'older' } });
    expect((await load()).minHealthyTargetsPerAz).toBe(1);
    await writeTopology(ddb, TABLE, doc({ ...topology(), minHealthyTargetsPerAz: 3 }));
    expect((await load()).minHealthyTargetsPerAz).toBe(3);
  });

  test('WHEN the read is throttled THEN it is retried rather than failing the rollback', async () => {
    await writeTopology(ddb, TABLE, doc());
    const real = ddb.send.bind(ddb);
    let calls = 0;
    const send = jest.spyOn(ddb, 'send').mockImplementation(((cmd: unknown) => (++calls <= 2 ? Promise.reject(throttlingError()) : real(cmd as never))) as never);
    await expect(topologyLoader({ dynamodb: ddb, env: { TOPOLOGY_TABLE: TABLE }, retry: noSleep })()).resolves.toEqual(topology());
    expect(calls).toBe(3);
    send.mockRestore();
  });

  test('fails WHEN the stored item is corrupt THEN the error names the table and the problem', async () => {
    await ddb.send(new PutItemCommand({ TableName: TABLE, Item: toAttributes({ pk: TOPOLOGY_ITEM_KEY, document: '{not json', version: 'x' }) }));
    await expect(readTopology(ddb, TABLE)).rejects.toThrow(/topology in table dev-lock: TOPOLOGY is not valid JSON/);
  });
});
