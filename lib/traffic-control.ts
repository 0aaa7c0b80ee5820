import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export interface TrafficControlProps {
  readonly encryptionKey: kms.IKey;
  /** Keep the ledger when the stack is deleted. */
  readonly retainLedger: boolean;
}

/**
 * State of traffic control: the release lock (one release or manual shift at a time, with an
 * expiring lease) and the append-only ledger of every shift, refusal, scale and rollback.
 */
export class TrafficControl extends Construct {
  readonly lockTable: dynamodb.TableV2;
  readonly ledgerTable: dynamodb.TableV2;

  constructor(scope: Construct, id: string, props: TrafficControlProps) {
    super(scope, id);
    const encryption = dynamodb.TableEncryptionV2.customerManagedKey(props.encryptionKey);
    this.lockTable = new dynamodb.TableV2(this, 'Lock', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billing: dynamodb.Billing.onDemand(),
      encryption,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.ledgerTable = new dynamodb.TableV2(this, 'Ledger', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billing: dynamodb.Billing.onDemand(),
      encryption,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.retainLedger,
      removalPolicy: props.retainLedger ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
  }
}
