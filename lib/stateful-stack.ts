import type * as logs from 'aws-cdk-lib/aws-logs';
import { Aspects, CfnOutput, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { DATABASE_NETWORK_OUTPUT, type DatabaseNetwork } from '../lambda/shared/database-task';
import type { Construct } from 'constructs';
import { EnvironmentStack, type EnvironmentStackProps } from './environment-stack';
import { AuditLogs } from './audit';
import { Cache } from './cache';
import { Database } from './database';
import { EnvironmentKey } from './encryption';
import { Network } from './network';
import { CdkProviderDefaults } from './provider-logs';

export interface StatefulStackProps extends EnvironmentStackProps {
}

/**
 * What holds data or addresses and must outlive any release: VPC, database, cache, audit logs.
 * Deployed rarely; termination protection follows the environment's data protection.
 */
export class StatefulStack extends EnvironmentStack {
  readonly network: Network;
  readonly database: Database;
  readonly cache: Cache;
  readonly audit: AuditLogs;
  /** Encrypts the data, the secrets and the audit logs. */
  readonly dataKey: EnvironmentKey;

  constructor(scope: Construct, id: string, props: StatefulStackProps) {
    super(scope, id, { ...props, terminationProtection: props.config.database.protectData });
    const { config: c } = props;
    const key = (this.dataKey = new EnvironmentKey(this, 'DataKey', { description: `${c.name}: database, cache, secrets, audit logs` }));
    const retain = c.database.protectData;

    this.network = new Network(this, 'Network', {
      cidr: c.network.cidr,
      availabilityZones: c.availabilityZones,
      natGateways: c.network.natGateways,
      interfaceEndpoints: c.network.interfaceEndpoints,
      flowLogRetention: c.network.flowLogRetentionDays as logs.RetentionDays,
      encryptionKey: key,
      retainLogs: retain,
    });
    this.database = new Database(this, 'Database', {
      vpc: this.network.vpc,
      config: c.database,
      encryptionKey: key,
      logRetention: c.logRetentionDays as logs.RetentionDays,
    });
    if (c.database.procedures) {
      // Where `npm run db` runs its tasks and which instance it restores (cli/db.ts): rendered here, where the subnets and
      // the instance live, so that no output of the stateless stack re-exports an import (lambda/shared/database-task.ts).
      const network: DatabaseNetwork = {
        subnets: this.network.vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).subnetIds,
        databaseInstanceId: this.database.primary.instanceIdentifier,
      };
      new CfnOutput(this, DATABASE_NETWORK_OUTPUT, {
        description: 'Where `npm run db` runs the database procedures: private subnets and the primary instance (the task: the stateless stack)',
        value: this.toJsonString(network),
      });
    }
    this.cache = new Cache(this, 'Cache', { vpc: this.network.vpc, config: c.cache, encryptionKey: key });
    this.audit = new AuditLogs(this, 'Audit', {
      encryptionKey: key,
      retention: c.logRetentionDays as logs.RetentionDays,
      retain,
    });
    // CDK's own providers here (auto-delete objects in dev, restrict default SG): logs with retention, a ServiceTimeout.
    Aspects.of(this).add(new CdkProviderDefaults({ retention: c.logRetentionDays as logs.RetentionDays, encryptionKey: key }));
    // CDK grants write one AWS::IAM::Policy per role holding only that role's scoped statements.
    Validations.of(this).acknowledge({
      id: 'PCI.DSS.321-IAMNoInlinePolicy',
      reason: 'Each role carries one CDK-generated least-privilege policy bound to it alone; wildcard use is checked by AwsSolutions-IAM5',
    });
  }
}
