import { CustomResource, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { Topology } from '../lambda/shared/topology';
import { TOPOLOGY_ENV } from '../lambda/shared/topology-store';
import { acknowledgeKmsGrantWildcards } from './nag';
import type { TrafficResourceProvider } from './traffic-resources';

export interface TopologyDocumentProps {
  /** The environment's topology; CloudFormation references are resolved at deploy time. */
  readonly topology: Topology;
  /** The environment's lock table, which holds the document in its `#topology` item. */
  readonly table: dynamodb.ITableV2;
  /** Runs Custom::TopologyDocument. */
  readonly provider: TrafficResourceProvider;
}

/**
 * The environment's topology, stored in its lock table at deploy time by Custom::TopologyDocument rather than in each
 * handler's environment variables, which Lambda limits to 4 KB in all (lambda/shared/topology-store.ts). Handlers get
 * `handlerEnvironment` (the table and the document's version) and `grantRead`; the CLI reads the same item.
 */
export class TopologyDocument extends Construct {
  readonly topology: Topology;
  readonly table: dynamodb.ITableV2;
  readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: TopologyDocumentProps) {
    super(scope, id);
    this.topology = props.topology;
    this.table = props.table;
    props.table.grant(props.provider.function, 'dynamodb:PutItem', 'dynamodb:DeleteItem');
    if (props.table.encryptionKey) {
      props.table.encryptionKey.grant(props.provider.function, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*');
      acknowledgeKmsGrantWildcards(props.provider.function, 'the lock table (topology document)');
    }
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: props.provider.serviceToken,
      resourceType: 'Custom::TopologyDocument',
      // A JSON string: CloudFormation would turn numbers inside an object property into strings.
      properties: { TableName: props.table.tableName, Document: Stack.of(this).toJsonString(props.topology) },
      // The provider's bound (its Lambda's attempts and retries), not CloudFormation's default hour.
      serviceTimeout: props.provider.serviceTimeout,
    });
  }

  /**
   * Environment variables of a handler that reads the topology. The version makes every reader's configuration change
   * with the document (no warm environment keeps an old copy) and orders the functions after the document's write.
   */
  get handlerEnvironment(): Record<string, string> {
    return { [TOPOLOGY_ENV.table]: this.table.tableName, [TOPOLOGY_ENV.version]: this.resource.getAttString('Version') };
  }

  /** GetItem of the document (and decrypting it with the table's key). */
  grantRead(grantee: iam.IGrantable): void {
    this.table.grant(grantee, 'dynamodb:GetItem');
    this.table.encryptionKey?.grant(grantee, 'kms:Decrypt');
  }
}
