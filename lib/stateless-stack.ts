import { Aspects, CfnOutput, Validations } from 'aws-cdk-lib';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { EnvironmentStack, type EnvironmentStackProps } from './environment-stack';
import type { SecretSource } from '../config';
import { COLOR_HEADER, COLORS, type ServiceName } from '../lambda/shared/topology';
import { TOPOLOGY_TABLE_OUTPUT } from '../lambda/shared/topology-store';
import { DATABASE_TASK_OUTPUT, type DatabaseTaskPart } from '../lambda/shared/database-task';
import { Cache } from './cache';
import { EnvironmentKey } from './encryption';
import { LiveImageGuard } from './image-guard';
import { Notifications } from './notifications';
import { RollbackAlarms } from './rollback-alarms';
import { PublicLoadBalancer } from './load-balancer';
import { ReleaseStateMachine } from './release';
import { AutomatedRollback } from './rollback';
import { hostPriorities, ServiceRouting } from './routing';
import { pascalCase } from './names';
import { ColoredService, TaskSecret } from './services';
import type { StatefulStack } from './stateful-stack';
import { TrafficControl } from './traffic-control';
import { TrafficResourceProvider } from './traffic-resources';
import { CdkProviderDefaults } from './provider-logs';

export interface StatelessStackProps extends EnvironmentStackProps {
  /** The environment's data and network, deployed before this stack. */
  readonly stateful: StatefulStack;
}

/**
 * What a release changes and what can be rebuilt at any time: the cluster and its blue/green
 * services, the load balancer, traffic control.
 */
export class StatelessStack extends EnvironmentStack {
  readonly services: Record<ServiceName, ColoredService>;
  readonly routing: Record<ServiceName, ServiceRouting>;
  readonly loadBalancer: PublicLoadBalancer;
  readonly trafficControl: TrafficControl;
  readonly rollbackAlarms: RollbackAlarms;
  readonly release: ReleaseStateMachine;
  readonly automatedRollback: AutomatedRollback;
  readonly cluster: ecs.Cluster;
  /** Encrypts the application logs, the traffic ledger and the handlers' environments. */
  readonly appKey: EnvironmentKey;
  /** Release, rollback and alarm notifications of the environment. */
  readonly notifications: Notifications;

  constructor(scope: Construct, id: string, props: StatelessStackProps) {
    super(scope, id, props);
    const { config: c, stateful } = props;
    const vpc = stateful.network.vpc;
    const logRetention = c.logRetentionDays as logs.RetentionDays;
    const key = (this.appKey = new EnvironmentKey(this, 'AppKey', { description: `${c.name}: application logs, traffic ledger` }));
    // Any CDK provider a construct brings in: logs with retention, a ServiceTimeout (lib/provider-logs.ts).
    Aspects.of(this).add(new CdkProviderDefaults({ retention: logRetention, encryptionKey: key }));

    const cluster = (this.cluster = new ecs.Cluster(this, 'Cluster', { vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED }));
    const hostedZone = route53.HostedZone.fromHostedZoneAttributes(this, 'Zone', {
      hostedZoneId: c.hostedZone.zoneId,
      zoneName: c.hostedZone.zoneName,
    });
    const serviceNames = Object.keys(c.services);
    const hosts = Object.fromEntries(serviceNames.map((s) => [s, c.services[s].host]));
    this.loadBalancer = new PublicLoadBalancer(this, 'LoadBalancer', {
      vpc,
      hosts,
      largeBodyHosts: serviceNames.filter((s) => c.services[s].largeRequestBodies).map((s) => hosts[s]),
      hostedZone,
      accessLogBucket: stateful.audit.loadBalancerLogs,
      testListenerPort: c.testListener.port,
      testListenerCidr: c.testListener.allowedCidr,
      testListenerSources: stateful.network.natSourceCidrs,
      access: c.access,
      waf: c.waf,
      wafLogs: { encryptionKey: key, retention: logRetention },
      deletionProtection: c.loadBalancer.deletionProtection,
    });

    // One security group per service, shared by its colors, so data stores allow the service once whatever color runs.
    // HTTPS out: ECR, Logs and Secrets Manager (through endpoints or NAT), public APIs and third parties (payment
    // gateways). Rules to the data stores are created from the service's side so they live in this stack and the
    // stateful stack never depends on this one.
    const securityGroups: Record<ServiceName, ec2.SecurityGroup> = {};
    for (const name of serviceNames) {
      const sg = new ec2.SecurityGroup(this, `${pascalCase(name)}Tasks`, { vpc, description: `${name} tasks, both colors`, allowAllOutbound: false });
      sg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to AWS APIs and third parties');
      const data = c.services[name].data ?? {};
      // The primary and its replicas share the database's security group (lib/database.ts).
      if (data.database || data.readReplicas) sg.connections.allowToDefaultPort(stateful.database, `${name} to PostgreSQL`);
      if (data.cache) sg.connections.allowToDefaultPort(stateful.cache, `${name} to cache`);
      securityGroups[name] = sg;
    }

    const provider = new TrafficResourceProvider(this, 'TrafficResources', { vpc, encryptionKey: key, logRetention });
    const { database, cache } = stateful;
    // Imported, so that granting the execution roles access adds statements to the roles only: a
    // grant on the stateful stack's own key and secrets would write these roles into its key
    // policy and make the stateful stack depend on this one. An imported key drops the key-policy
    // half of a secret's grant, so the backend's secrets are `TaskSecret`s, which grant kms:Decrypt
    // on each secret's key in the execution role's own policy (lib/services.ts).
    const dataKey = kms.Key.fromKeyArn(this, 'DataKey', stateful.dataKey.keyArn);
    // The application's own user (alternating-users rotation), never the master: the credentials a task
    // gets at start stay valid for at least the rotation interval less one day (lib/database-users.ts).
    const databaseSecret = secretsmanager.Secret.fromSecretAttributes(this, 'DatabaseSecret', {
      secretCompleteArn: database.appSecret.secretArn,
      encryptionKey: dataKey,
    });
    // The schema owner, for `release.migrationCommand` only: held by the backend's migration task definitions alone
    // (lib/services.ts), which the release runs once per release (lib/release.ts).
    const migrationSecret = secretsmanager.Secret.fromSecretAttributes(this, 'DatabaseMigrationSecret', {
      secretCompleteArn: database.ownerSecret.secretArn,
      encryptionKey: dataKey,
    });
    const cacheToken = secretsmanager.Secret.fromSecretAttributes(this, 'CacheToken', {
      secretCompleteArn: cache.authToken.secretArn,
      encryptionKey: dataKey,
    });
    const common = { cluster, logRetention, logKey: key, provider, apm: c.monitoring.apm, environmentName: c.name };
    const secretSource = (service: ServiceName, variable: string, src: SecretSource): TaskSecret => {
      if ('database' in src) return TaskSecret.fromSecretsManager(databaseSecret, src.database);
      if ('cache' in src) return TaskSecret.fromSecretsManager(cacheToken);
      const id = `${pascalCase(service)}Secret${pascalCase(variable.toLowerCase())}`;
      const secret = secretsmanager.Secret.fromSecretAttributes(this, id, {
        secretCompleteArn: src.secretArn,
        encryptionKey: src.encryptionKeyArn ? kms.Key.fromKeyArn(this, `${id}Key`, src.encryptionKeyArn) : undefined,
      });
      return TaskSecret.fromSecretsManager(secret, src.jsonKey);
    };
    this.services = {};
    for (const name of serviceNames) {
      const sc = c.services[name];
      const data = sc.data ?? {};
      // Connection settings of the data stores the service may reach (config `data`); credentials come as secrets.
      const db = data.database || data.readReplicas;
      const dataEnvironment: Record<string, string> = {
        ...(data.database ? { DATABASE_HOST: database.primary.dbInstanceEndpointAddress } : {}),
        ...(db ? { DATABASE_PORT: database.primary.dbInstanceEndpointPort, DATABASE_NAME: c.database.databaseName } : {}),
        ...(data.readReplicas ? { DATABASE_READ_HOSTS: database.readEndpoints } : {}),
        ...(db ? { DATABASE_SSL: 'require' } : {}),
        ...(data.cache ? { REDIS_HOST: cache.endpoint, REDIS_PORT: String(Cache.PORT), REDIS_TLS: 'true' } : {}),
      };
      const secrets = Object.fromEntries(Object.entries(sc.secrets ?? {}).map(([variable, src]) => [variable, secretSource(name, variable, src)]));
      this.services[name] = new ColoredService(this, pascalCase(name), {
        ...common,
        serviceName: name,
        config: sc,
        securityGroup: securityGroups[name],
        environment: { ...sc.environment, ...dataEnvironment },
        secrets: Object.keys(secrets).length > 0 ? secrets : undefined,
        // Only the migration task holds the schema owner's credentials, and only where releases run migrations; it
        // gets them under both names, so a migration tool that reads DATABASE_USERNAME connects as the owner.
        migrationSecrets:
          (c.release.migrationCommand || c.database.procedures) && sc.runsMigration
            ? {
                DATABASE_USERNAME: TaskSecret.fromSecretsManager(migrationSecret, 'username'),
                DATABASE_PASSWORD: TaskSecret.fromSecretsManager(migrationSecret, 'password'),
                DATABASE_MIGRATION_USERNAME: TaskSecret.fromSecretsManager(migrationSecret, 'username'),
                DATABASE_MIGRATION_PASSWORD: TaskSecret.fromSecretsManager(migrationSecret, 'password'),
              }
            : undefined,
      });
    }

    const priorities = hostPriorities(Object.values(hosts));
    this.routing = {};
    for (const name of serviceNames) {
      this.routing[name] = new ServiceRouting(this, `${pascalCase(name)}Routing`, {
        productionListener: this.loadBalancer.productionListener,
        testListener: this.loadBalancer.testListener,
        hostHeader: hosts[name],
        colors: this.services[name].colors,
        provider,
        priority: priorities[hosts[name]],
      });
    }

    new LiveImageGuard(this, 'LiveImageGuard', { config: c, services: this.services, routing: this.routing, provider });

    const notifications = (this.notifications = new Notifications(this, 'Notifications', { environment: c.name, encryptionKey: key, email: c.monitoring.alarmEmail, slack: c.monitoring.slack }));
    this.rollbackAlarms = new RollbackAlarms(this, 'RollbackAlarms', {
      environment: c.name,
      config: c.monitoring,
      services: this.services,
      logTriggers: Object.fromEntries(serviceNames.map((s) => [s, c.services[s].logTriggers ?? []])),
    });
    for (const color of COLORS) this.rollbackAlarms.colors[color].composite.addAlarmAction(new cloudwatchActions.SnsAction(notifications.topic));

    this.trafficControl = new TrafficControl(this, 'TrafficControl', {
      environment: c.name,
      cluster,
      services: this.services,
      routing: this.routing,
      productionListener: this.loadBalancer.productionListener,
      scaling: Object.fromEntries(
        serviceNames.flatMap((s) => {
          const a = c.services[s].autoscaling;
          return a ? [[s, { minCapacity: a.minCapacity, maxCapacity: a.maxCapacity }]] : [];
        }),
      ),
      minHealthyTargetsPerAz: c.traffic.minHealthyTargetsPerAz,
      testListener: { port: c.testListener.port, colorHeader: COLOR_HEADER, hosts, checks: Object.fromEntries(serviceNames.map((s) => [s, c.services[s].preTrafficChecks])) },
      rollbackAlarms: { blue: this.rollbackAlarms.alarmsOf('blue'), green: this.rollbackAlarms.alarmsOf('green') },
      comparisonAlarms: { blue: this.rollbackAlarms.colors.blue.comparisons, green: this.rollbackAlarms.colors.green.comparisons },
      notificationTopic: notifications.topic,
      vpc,
      encryptionKey: key,
      logRetention,
      retainLedger: c.database.protectData,
      provider,
    });

    // Validated: exactly one service runs the migration where the environment has a migration command.
    const migrating = c.release.migrationCommand ? serviceNames.find((s) => c.services[s].runsMigration) : undefined;
    this.release = new ReleaseStateMachine(this, 'Release', {
      policy: c.release,
      bakeWatch: { pollSeconds: c.monitoring.crash.pollSeconds, unhealthyPolls: c.monitoring.crash.unhealthyPolls, unhealthyTargetsPercent: c.monitoring.unhealthyTargetsPercent },
      topology: this.trafficControl.topologyDocument,
      vpc,
      encryptionKey: key,
      logRetention,
      notificationTopic: notifications.topic,
      lockTable: this.trafficControl.lockTable,
      ledgerTable: this.trafficControl.ledgerTable,
      productionListener: this.loadBalancer.productionListener,
      cluster,
      database: database.primary,
      repositories: Object.fromEntries(serviceNames.map((s) => [s, this.services[s].repository])),
      certificates: this.loadBalancer.certificates,
      migration: migrating
        ? {
            service: migrating,
            taskDefinitions: {
              blue: this.services[migrating].colors.blue.migrationTaskDefinition!,
              green: this.services[migrating].colors.green.migrationTaskDefinition!,
            },
            containerName: 'App',
            subnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
            securityGroup: securityGroups[migrating],
          }
        : undefined,
    });
    // Where `npm run db` runs the database procedures (cli/db.ts): the migrating service's migration task definitions.
    // The subnets and the instance are the stateful stack's output `DatabaseNetwork` (lambda/shared/database-task.ts).
    const procedureService = c.database.procedures ? serviceNames.find((s) => c.services[s].runsMigration) : undefined;
    if (procedureService) {
      const colors = this.services[procedureService].colors;
      const task: DatabaseTaskPart = {
        service: procedureService,
        taskDefinitions: { blue: colors.blue.migrationTaskDefinition!.taskDefinitionArn, green: colors.green.migrationTaskDefinition!.taskDefinitionArn },
        containerName: 'App',
        securityGroups: [securityGroups[procedureService].securityGroupId],
        logGroupName: this.services[procedureService].logGroup.logGroupName,
      };
      new CfnOutput(this, DATABASE_TASK_OUTPUT, {
        description: 'Where `npm run db` runs the database procedures: task definitions per color, security group, log group (network and instance: the stateful stack)',
        value: this.toJsonString(task),
      });
    }
    new CfnOutput(this, 'ReleaseStateMachineArn', {
      description: 'Release state machine of this environment, started by `npm run release`',
      value: this.release.stateMachine.stateMachineArn,
    });

    this.automatedRollback = new AutomatedRollback(this, 'AutomatedRollback', {
      environment: c.name,
      alarms: COLORS.map((color) => this.rollbackAlarms.colors[color].composite),
      trafficControl: this.trafficControl,
      releaseStateMachine: this.release.stateMachine,
      topic: notifications.topic,
      vpc,
      encryptionKey: key,
      logRetention,
    });

    // CDK grants write one AWS::IAM::Policy per role holding only that role's scoped statements;
    // a managed policy would be a broader, reusable attachment. Wildcards stay checked by AwsSolutions-IAM5.
    Validations.of(this).acknowledge({
      id: 'PCI.DSS.321-IAMNoInlinePolicy',
      reason: 'Each role carries one CDK-generated least-privilege policy bound to it alone; wildcard use is checked by AwsSolutions-IAM5',
    });

    // The table, not the topology itself: the CLI reads the same stored document as the handlers, whatever its size.
    new CfnOutput(this, TOPOLOGY_TABLE_OUTPUT, {
      description: 'Table holding the traffic-control topology of this environment (item #topology), read by `npm run traffic` and `npm run release`',
      value: this.trafficControl.lockTable.tableName,
    });
  }
}
