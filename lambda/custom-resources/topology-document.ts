/**
 * Custom::TopologyDocument — writes the environment's topology into its lock table at deploy time
 * (lambda/shared/topology-store.ts says why it is not an environment variable).
 *
 * Properties: TableName, Document (the topology as a JSON string: CloudFormation passes every scalar property of a
 * custom resource as a string, so numbers inside an object would arrive as strings).
 * Create/Update: validates the document with the handlers' own parser (a broken topology fails the deploy, not the
 *   first rollback at 3 a.m.) and writes it with its version; returns `Version`, which every reader's function
 *   configuration carries. CloudFormation's rollback of an update sends the old document back, which is written the same way.
 * Delete: removes the item; a table that is already gone (deleted with the stack) is not an error.
 * The physical ID names the table, so a replaced table gets a Create and the old one a Delete.
 */
import { DeleteItemCommand, type DynamoDBClient, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { TOPOLOGY_ITEM_KEY, writeTopology } from '../shared/topology-store';
import { toAttributes } from '../traffic/dynamo-items';
import { withRetry } from '../traffic/retry';
import { type CfnEvent, type CfnResult, stringProp } from './cfn';

export async function handleTopologyDocument(event: CfnEvent, dynamodb: DynamoDBClient, now: () => Date = () => new Date()): Promise<CfnResult> {
  const props = event.ResourceProperties as Record<string, unknown>;
  const table = stringProp(props.TableName, 'TableName');
  const physicalResourceId = `${table}/${TOPOLOGY_ITEM_KEY}`;
  if (event.RequestType === 'Delete') {
    // The item lives in the table named by the physical ID being deleted, which after a table replacement is the old one.
    const oldTable = event.PhysicalResourceId.endsWith(`/${TOPOLOGY_ITEM_KEY}`) ? event.PhysicalResourceId.slice(0, -TOPOLOGY_ITEM_KEY.length - 1) : table;
    try {
      await withRetry(() => dynamodb.send(new DeleteItemCommand({ TableName: oldTable, Key: toAttributes({ pk: TOPOLOGY_ITEM_KEY }) })));
    } catch (e) {
      if (!(e instanceof ResourceNotFoundException) && (e as Error)?.name !== 'ResourceNotFoundException') throw e;
    }
    return { physicalResourceId: event.PhysicalResourceId };
  }
  const version = await writeTopology(dynamodb, table, stringProp(props.Document, 'Document'), now());
  return { physicalResourceId, data: { Version: version } };
}
