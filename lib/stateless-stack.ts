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
import { COLOR_HEADER, COLORS, type PreTrafficCheck, SERVICES, type ServiceName } from '../lambda/shared/topology';
import { TOPOLOGY_TABLE_OUTPUT } from '../lambda/shared/topology-store';
import { Cache } from './cache';
import { EnvironmentKey } from './encryption';
import { LiveImageGuard } from './image-guard';
import { Notifications } from './notifications';
import { OperationsMonitoring } from './operations-monitoring';
import { RollbackAlarms } from './rollback-alarms';
import { PublicLoadBalancer } from './load-balancer';
import { ReleaseStateMachine } from './release';
import { AutomatedRollback } from './rollback';
import { ServiceRouting } from './routing';
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
  readonly services: Readonly<Record<ServiceName, ColoredService>>;
  readonly routing: Readonly<Record<ServiceName, ServiceRouting>>;
  readonly loadBalancer: PublicLoadBalancer;
  readonly trafficControl: TrafficControl;
  readonly rollbackAlarms: RollbackAlarms;
  readonly release: ReleaseStateMachine;
  readonly automatedRollback: AutomatedRollback;

  constructor(scope: Construct, id: string, props: StatelessStackProps) {
    super(scope, id, props);
    const { config: c, stateful } = props;
    const vpc = stateful.network.vpc;
    const logRetention = c.logRetentionDays as logs.RetentionDays;
    const key = new EnvironmentKey(this, 'AppKey', { description: `${c.name}: application logs, traffic ledger` });
    // Any CDK provider a construct brings in: logs with retention, a ServiceTimeout (lib/provider-logs.ts).
    Aspects.of(this).add(new CdkProviderDefaults({ retention: logRetention, encryptionKey: key }));

    const cluster = new ecs.Cluster(this, 'Cluster', { vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
    const hostedZone = route53.HostedZone.fromHostedZoneAttributes(this, 'Zone', {
      hostedZoneId: c.hostedZone.zoneId,
      zoneName: c.hostedZone.zoneName,
    });
    this.loadBalancer = new PublicLoadBalancer(this, 'LoadBalancer', {
      vpc,
      domainName: c.domainName,
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

    const securityGroups = {
      frontend: new ec2.SecurityGroup(this, 'FrontendTasks', { vpc, description: 'Frontend tasks, both colors', allowAllOutbound: false }),
      backend: new ec2.SecurityGroup(this, 'BackendTasks', { vpc, description: 'Backend tasks, both colors', allowAllOutbound: false }),
    };
    // HTTPS out: ECR, Logs and Secrets Manager (through endpoints or NAT), the public API for the
    // frontend, payment gateways for the backend.
    for (const sg of Object.values(securityGroups)) sg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to AWS APIs and third parties');
    // Rules are created from the backend's side so they live in this stack and the stateful
    // stack never depends on this one.
    securityGroups.backend.connections.allowToDefaultPort(stateful.database, 'Backend to PostgreSQL');
    securityGroups.backend.connections.allowToDefaultPort(stateful.cache, 'Backend to cache');

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
    this.services = {
      frontend: new ColoredService(this, 'Frontend', {
        ...common,
        serviceName: 'frontend',
        config: c.services.frontend,
        securityGroup: securityGroups.frontend,
        environment: { NODE_ENV: 'production', API_URL: `https://${this.loadBalancer.apiDomainName}` },
      }),
      backend: new ColoredService(this, 'Backend', {
        ...common,
        serviceName: 'backend',
        config: c.services.backend,
        securityGroup: securityGroups.backend,
        // The plan's DATABASE_URL and REDIS_URL hold passwords, so they are split: addresses as plain
        // variables, credentials as ECS secrets; the backend assembles the URLs (README, "Runtime contract").
        environment: {
          NODE_ENV: 'production',
          DATABASE_HOST: database.primary.dbInstanceEndpointAddress,
          DATABASE_PORT: database.primary.dbInstanceEndpointPort,
          DATABASE_NAME: c.database.databaseName,
          DATABASE_READ_HOSTS: database.readEndpoints,
          DATABASE_SSL: 'require',
          REDIS_HOST: cache.endpoint,
          REDIS_PORT: String(Cache.PORT),
          REDIS_TLS: 'true',
        },
        secrets: {
          // Username and password from the same secret: after a rotation both name the new current user.
          DATABASE_USERNAME: TaskSecret.fromSecretsManager(databaseSecret, 'username'),
          DATABASE_PASSWORD: TaskSecret.fromSecretsManager(databaseSecret, 'password'),
          REDIS_AUTH_TOKEN: TaskSecret.fromSecretsManager(cacheToken),
        },
        // Only the migration task holds the schema owner's credentials, and only where releases run migrations; it
        // gets them under both names, so a migration tool that reads DATABASE_USERNAME connects as the owner.
        migrationSecrets: c.release.migrationCommand
          ? {
              DATABASE_USERNAME: TaskSecret.fromSecretsManager(migrationSecret, 'username'),
              DATABASE_PASSWORD: TaskSecret.fromSecretsManager(migrationSecret, 'password'),
              DATABASE_MIGRATION_USERNAME: TaskSecret.fromSecretsManager(migrationSecret, 'username'),
              DATABASE_MIGRATION_PASSWORD: TaskSecret.fromSecretsManager(migrationSecret, 'password'),
            }
          : undefined,
      }),
    };

    const hosts: Record<ServiceName, string> = { frontend: c.domainName, backend: this.loadBalancer.apiDomainName };
    this.routing = Object.fromEntries(
      SERVICES.map((name, i) => [
        name,
        new ServiceRouting(this, `${name === 'frontend' ? 'Frontend' : 'Backend'}Routing`, {
          productionListener: this.loadBalancer.productionListener,
          testListener: this.loadBalancer.testListener,
          hostHeader: hosts[name],
          colors: this.services[name].colors,
          provider,
          priority: (i + 1) * 10,
        }),
      ]),
    ) as Record<ServiceName, ServiceRouting>;

    new LiveImageGuard(this, 'LiveImageGuard', { config: c, services: this.services, routing: this.routing, provider });

    const notifications = new Notifications(this, 'Notifications', { environment: c.name, encryptionKey: key, email: c.monitoring.alarmEmail });
    this.rollbackAlarms = new RollbackAlarms(this, 'RollbackAlarms', { environment: c.name, config: c.monitoring, services: this.services });
    for (const color of COLORS) this.rollbackAlarms.colors[color].composite.addAlarmAction(new cloudwatchActions.SnsAction(notifications.topic));

    this.trafficControl = new TrafficControl(this, 'TrafficControl', {
      environment: c.name,
      cluster,
      services: this.services,
      routing: this.routing,
      scaling: Object.fromEntries(
        SERVICES.flatMap((s) => {
          const a = c.services[s].autoscaling;
          return a ? [[s, { minCapacity: a.minCapacity, maxCapacity: a.maxCapacity }]] : [];
        }),
      ),
      minHealthyTargetsPerAz: c.traffic.minHealthyTargetsPerAz,
      testListener: { port: c.testListener.port, colorHeader: COLOR_HEADER, hosts, checks: Object.fromEntries(SERVICES.map((s) => [s, c.services[s].preTrafficChecks])) as Record<ServiceName, readonly PreTrafficCheck[]> },
      rollbackAlarms: { blue: this.rollbackAlarms.alarmsOf('blue'), green: this.rollbackAlarms.alarmsOf('green') },
      comparisonAlarms: { blue: this.rollbackAlarms.colors.blue.comparisons, green: this.rollbackAlarms.colors.green.comparisons },
      notificationTopic: notifications.topic,
      vpc,
      encryptionKey: key,
      logRetention,
      retainLedger: c.database.protectData,
      provider,
    });

    const rollbackAlarms = COLORS.flatMap((color) => this.rollbackAlarms.alarmsOf(color));
    this.release = new ReleaseStateMachine(this, 'Release', {
      policy: c.release,
      topology: this.trafficControl.topologyDocument,
      vpc,
      encryptionKey: key,
      logRetention,
      notificationTopic: notifications.topic,
      lockTable: this.trafficControl.lockTable,
      ledgerTable: this.trafficControl.ledgerTable,
      listenerRules: SERVICES.map((s) => this.routing[s]),
      cluster,
      services: SERVICES.flatMap((s) => COLORS.map((color) => this.services[s].colors[color].service)),
      alarms: rollbackAlarms,
      comparisonAlarms: { blue: this.rollbackAlarms.colors.blue.comparisons, green: this.rollbackAlarms.colors.green.comparisons },
      database: database.primary,
      migration: c.release.migrationCommand
        ? {
            taskDefinitions: { blue: this.services.backend.colors.blue.migrationTaskDefinition!, green: this.services.backend.colors.green.migrationTaskDefinition! },
            containerName: 'App',
            subnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
            securityGroup: securityGroups.backend,
          }
        : undefined,
    });
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

    new OperationsMonitoring(this, 'Operations', {
      environment: c.name,
      topic: notifications.topic,
      loadBalancer: this.loadBalancer.loadBalancer,
      services: this.services,
      rollbackAlarms: this.rollbackAlarms,
      database,
      databaseConfig: c.database,
      databaseConnectionsPercent: c.monitoring.databaseConnectionsPercent,
      cache,
      cacheNodes: c.cache.nodes,
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
