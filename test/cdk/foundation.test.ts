import { Match } from 'aws-cdk-lib/assertions';
import { ENVIRONMENTS } from '../../config';
import { resourcesOf, synthEnvironment } from './support';

describe.each(['dev', 'staging', 'production'] as const)('%s environment', (name) => {
  const config = ENVIRONMENTS[name];
  const azs = config.availabilityZones.length;
  const { stateful, stateless } = synthEnvironment(name);

  test(`GIVEN ${azs} configured AZs THEN the VPC has public, private and isolated subnets in each`, () => {
    stateful.resourceCountIs('AWS::EC2::Subnet', azs * 3);
    const subnetAzs = resourcesOf(stateful, 'AWS::EC2::Subnet').map(([, r]) => r.Properties.AvailabilityZone);
    expect(new Set(subnetAzs)).toEqual(new Set(config.availabilityZones));
    for (const [, r] of resourcesOf(stateful, 'AWS::EC2::Subnet')) expect(r.Properties.MapPublicIpOnLaunch).toBe(false);
  });

  test(`THEN it has ${config.network.natGateways} NAT gateway(s), flow logs and an S3 gateway endpoint`, () => {
    stateful.resourceCountIs('AWS::EC2::NatGateway', config.network.natGateways);
    stateful.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'ALL', LogDestinationType: 'cloud-watch-logs' });
    stateful.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['.s3'])]) }),
    });
    stateful.resourceCountIs('AWS::EC2::VPCEndpoint', config.network.interfaceEndpoints ? 5 : 1);
  });

  test('THEN the cluster has Container Insights on', () => {
    stateless.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
    });
  });

  test('THEN frontend and backend each run as a blue and a green Fargate service with circuit breaker', () => {
    const services = resourcesOf(stateless, 'AWS::ECS::Service');
    expect(services).toHaveLength(4);
    for (const [, s] of services) {
      expect(s.Properties.LaunchType).toBe('FARGATE');
      expect(s.Properties.DeploymentConfiguration.DeploymentCircuitBreaker).toEqual({ Enable: true, Rollback: true });
      expect(s.Properties.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp).toBe('DISABLED');
    }
    const ids = services.map(([id]) => id).sort();
    expect(ids).toEqual([
      expect.stringMatching(/^BackendBlueService/),
      expect.stringMatching(/^BackendGreenService/),
      expect.stringMatching(/^FrontendBlueService/),
      expect.stringMatching(/^FrontendGreenService/),
    ]);
  });

  test('THEN each color has its own task definition with the configured image version and size', () => {
    for (const service of ['frontend', 'backend'] as const) {
      const s = config.services[service];
      for (const color of ['blue', 'green'] as const) {
        stateless.hasResourceProperties('AWS::ECS::TaskDefinition', {
          Cpu: String(s.cpu),
          Memory: String(s.memoryMiB),
          ContainerDefinitions: Match.arrayWith([
            Match.objectLike({
              Image: Match.objectLike({
                'Fn::Join': Match.arrayWith([Match.arrayWith([`/${s.repositoryName}:${s.colors[color].version}`])]),
              }),
              Environment: Match.arrayWith([{ Name: 'APP_COLOR', Value: color }]),
              HealthCheck: Match.objectLike({ Command: ['CMD-SHELL', `curl -fsS http://localhost:${s.containerPort}/health || exit 1`] }),
              LogConfiguration: Match.objectLike({ LogDriver: 'awslogs' }),
            }),
          ]),
        });
      }
    }
    // Plus the backend's migration task per color where releases migrate (lib/services.ts migrationSecrets).
    stateless.resourceCountIs('AWS::ECS::TaskDefinition', 4 + (config.release.migrationCommand ? 2 : 0));
  });

  test('THEN four IP target groups health-check GET /health', () => {
    const groups = resourcesOf(stateless, 'AWS::ElasticLoadBalancingV2::TargetGroup');
    expect(groups).toHaveLength(4);
    for (const [, g] of groups) {
      expect(g.Properties).toMatchObject({ HealthCheckPath: '/health', TargetType: 'ip', Matcher: { HttpCode: '200' } });
    }
  });

  test('THEN each host rule is a weighted forward that starts at blue 100 and green 0', () => {
    const hosts = [config.services.frontend.host, config.services.backend.host];
    for (const [i, host] of hosts.entries()) {
      const prefix = i === 0 ? 'Frontend' : 'Backend';
      stateless.hasResourceProperties('Custom::WeightedListenerRule', {
        ListenerArn: { Ref: Match.stringLikeRegexp('^LoadBalancerAlbHttps') },
        Conditions: [{ Field: 'host-header', HostHeaderConfig: { Values: [host] } }],
        TargetGroups: {
          blue: { Ref: Match.stringLikeRegexp(`^${prefix}BlueTargetGroup`) },
          green: { Ref: Match.stringLikeRegexp(`^${prefix}GreenTargetGroup`) },
        },
        InitialWeights: { blue: 100, green: 0 },
      });
    }
    // No plain listener rule carries weights: CloudFormation would put them back on every update.
    for (const [, rule] of resourcesOf(stateless, 'AWS::ElasticLoadBalancingV2::ListenerRule')) {
      for (const action of rule.Properties.Actions) expect(action.ForwardConfig?.TargetGroups?.[0]?.Weight).toBeUndefined();
    }
  });

  test('THEN HTTP redirects to HTTPS and HTTPS uses the ACM certificate and a current TLS policy', () => {
    stateless.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 80,
      DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }],
    });
    stateless.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 443,
      Protocol: 'HTTPS',
      SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
      Certificates: [{ CertificateArn: { Ref: Match.stringLikeRegexp('Certificate') } }],
    });
    stateless.hasResourceProperties('AWS::CertificateManager::Certificate', {
      DomainName: config.services.frontend.host,
      SubjectAlternativeNames: [config.services.backend.host],
      ValidationMethod: 'DNS',
      DomainValidationOptions: Match.arrayWith([{ DomainName: config.services.frontend.host, HostedZoneId: config.hostedZone.zoneId }]),
    });
  });

  test('THEN the test listener reaches each named color by header and is open only to the configured CIDR', () => {
    stateless.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: config.testListener.port, Protocol: 'HTTPS' });
    for (const color of ['blue', 'green']) {
      stateless.hasResourceProperties('AWS::ElasticLoadBalancingV2::ListenerRule', {
        Conditions: Match.arrayWith([{ Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'X-Release-Color', Values: [color] } }]),
      });
    }
    stateless.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupIngress: Match.arrayWith([
        Match.objectLike({ CidrIp: config.testListener.allowedCidr, FromPort: config.testListener.port, ToPort: config.testListener.port }),
      ]),
    });
    const ingress = resourcesOf(stateless, 'AWS::EC2::SecurityGroup').flatMap(([, sg]) => sg.Properties.SecurityGroupIngress ?? []);
    // Besides the operator CIDR, only the VPC's own NAT addresses (/32 each), through which the release
    // Lambda's pre-traffic checks arrive.
    const sources = ingress.filter((r: any) => r.FromPort === config.testListener.port).map((r: any) => r.CidrIp);
    expect(sources).toHaveLength(1 + config.network.natGateways);
    expect(sources[0]).toBe(config.testListener.allowedCidr);
    for (const nat of sources.slice(1)) expect(JSON.stringify(nat)).toMatch(/NetworkVpcPublicSubnet\dEIP.*PublicIp.*"\/32"/);
  });

  test('THEN the ALB writes access logs to the encrypted log bucket', () => {
    stateless.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Scheme: 'internet-facing',
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'access_logs.s3.enabled', Value: 'true' }]),
    });
    stateless.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'routing.http.drop_invalid_header_fields.enabled', Value: 'true' }]),
    });
    stateful.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      LoggingConfiguration: { LogFilePrefix: 'alb-logs/' },
    });
  });

  test(`THEN WAF is ${config.waf ? 'associated with AWS managed rule groups and logs' : 'not deployed'}`, () => {
    stateless.resourceCountIs('AWS::WAFv2::WebACLAssociation', config.waf ? 1 : 0);
    if (config.waf) {
      stateless.hasResourceProperties('AWS::WAFv2::WebACL', {
        Scope: 'REGIONAL',
        Rules: Match.arrayWith([Match.objectLike({ Statement: { ManagedRuleGroupStatement: { VendorName: 'AWS', Name: 'AWSManagedRulesCommonRuleSet' } } })]),
      });
      stateless.resourceCountIs('AWS::WAFv2::LoggingConfiguration', 1);
    }
  });

  test('THEN PostgreSQL is KMS-encrypted, SSL-enforced, in isolated subnets, with rotated credentials', () => {
    stateful.hasResourceProperties('AWS::RDS::DBInstance', {
      Engine: 'postgres',
      StorageEncrypted: true,
      KmsKeyId: Match.anyValue(),
      MultiAZ: config.database.multiAz,
      BackupRetentionPeriod: config.database.backupRetentionDays,
      DeletionProtection: config.database.protectData,
      EnablePerformanceInsights: true,
      PubliclyAccessible: false,
      Port: '5433',
    });
    stateful.hasResourceProperties('AWS::RDS::DBParameterGroup', { Parameters: { 'rds.force_ssl': '1' } });
    stateful.hasResourceProperties('AWS::SecretsManager::RotationSchedule', { RotationRules: { ScheduleExpression: 'rate(30 days)' } });
  });

  test(`THEN the database has ${config.database.readReplicas} read replica(s), each in its own AZ`, () => {
    const replicas = resourcesOf(stateful, 'AWS::RDS::DBInstance').filter(([, r]) => r.Properties.SourceDBInstanceIdentifier);
    expect(replicas).toHaveLength(config.database.readReplicas);
    const replicaAzs = replicas.map(([, r]) => r.Properties.AvailabilityZone);
    expect(new Set(replicaAzs).size).toBe(replicas.length);
  });

  test(`THEN data is ${config.database.protectData ? 'kept' : 'disposable'} when the stack is deleted`, () => {
    const [[, primary]] = resourcesOf(stateful, 'AWS::RDS::DBInstance').filter(([, r]) => !r.Properties.SourceDBInstanceIdentifier);
    expect(primary.DeletionPolicy).toBe(config.database.protectData ? 'Snapshot' : 'Delete');
    expect(primary.Properties.DeletionProtection).toBe(config.database.protectData);
  });

  test('THEN the cache is encrypted in transit and at rest with an AUTH token from Secrets Manager', () => {
    stateful.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      TransitEncryptionEnabled: true,
      AtRestEncryptionEnabled: true,
      KmsKeyId: Match.anyValue(),
      AutomaticFailoverEnabled: config.cache.multiAz,
      MultiAZEnabled: config.cache.multiAz,
      NumCacheClusters: config.cache.nodes,
      AuthToken: { 'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: Match.stringLikeRegexp('CacheAuthToken') }, ':SecretString:::}}']] },
    });
  });

  test('THEN backend credentials are ECS secrets from Secrets Manager and never plain variables', () => {
    const taskDefs = resourcesOf(stateless, 'AWS::ECS::TaskDefinition');
    const backend = taskDefs.filter(([id]) => id.startsWith('Backend') && !id.includes('Migration'));
    expect(backend).toHaveLength(2);
    for (const [, td] of backend) {
      const [container] = td.Properties.ContainerDefinitions;
      expect(container.Secrets.map((s: { Name: string }) => s.Name).sort()).toEqual(['DATABASE_PASSWORD', 'DATABASE_USERNAME', 'REDIS_AUTH_TOKEN']);
      // The application's own user (test/cdk/database.test.ts checks it is never the master).
      const password = container.Secrets.find((s: { Name: string }) => s.Name === 'DATABASE_PASSWORD');
      expect(JSON.stringify(password.ValueFrom)).toMatch(/DatabaseUsersAppSecret.*:password::"/);
    }
    for (const [, td] of taskDefs) {
      for (const env of td.Properties.ContainerDefinitions[0].Environment) {
        expect(env.Name).not.toMatch(/PASSWORD|TOKEN|SECRET/);
      }
    }
  });

  test('THEN the backend tasks, and only they, reach PostgreSQL and the cache', () => {
    const ingress = resourcesOf(stateless, 'AWS::EC2::SecurityGroupIngress').map(([, r]) => r.Properties);
    const dbRule = ingress.find((r) => r.FromPort === 5433);
    const cacheRule = ingress.find((r) => r.FromPort === 6380);
    expect(dbRule?.SourceSecurityGroupId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^BackendTasks/), 'GroupId'] });
    expect(cacheRule?.SourceSecurityGroupId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^BackendTasks/), 'GroupId'] });
    expect(ingress.filter((r) => r.FromPort === 5433 || r.FromPort === 6380)).toHaveLength(2);
  });

  test(`THEN autoscaling is ${config.services.frontend.autoscaling ? 'a CPU target-tracking policy per color' : 'off'}`, () => {
    const policies = resourcesOf(stateless, 'AWS::ApplicationAutoScaling::ScalingPolicy');
    expect(policies).toHaveLength(config.services.frontend.autoscaling ? 4 : 0);
    for (const [, p] of policies) {
      expect(p.Properties).toMatchObject({
        PolicyType: 'TargetTrackingScaling',
        ScalableDimension: 'ecs:service:DesiredCount',
        TargetTrackingScalingPolicyConfiguration: { PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' } },
      });
      expect(p.DependsOn).toEqual([expect.stringMatching(/Counts/)]);
    }
  });

  test('THEN the switch Lambda runs the traffic core on the current Node.js runtime with the topology', () => {
    stateless.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Environment: { Variables: Match.objectLike({ TOPOLOGY_TABLE: Match.anyValue(), TOPOLOGY_VERSION: Match.anyValue() }) },
      VpcConfig: Match.anyValue(),
      TracingConfig: { Mode: 'Active' },
    });
    stateless.hasOutput('TopologyTable', { Value: { Ref: Match.stringLikeRegexp('^TrafficControlLock') } });
  });

  test('THEN CloudTrail validates log files into a KMS-encrypted bucket', () => {
    stateful.hasResourceProperties('AWS::CloudTrail::Trail', {
      EnableLogFileValidation: true,
      IsLogging: true,
      KMSKeyId: Match.anyValue(),
      CloudWatchLogsLogGroupArn: Match.anyValue(),
    });
    stateful.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [Match.objectLike({ ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: 'aws:kms' }) })] },
    });
  });

  test('THEN no secret value appears in any template', () => {
    const json = JSON.stringify([stateful.toJSON(), stateless.toJSON()]);
    expect(json).not.toMatch(/"(MasterUserPassword|Password|AuthToken)":"[^{]/);
    expect(json).not.toMatch(/"SecretString":"/);
    // Every reference to a secret is a dynamic reference resolved by CloudFormation at deploy time.
    expect(json).toContain('{{resolve:secretsmanager:');
  });

  test('THEN the stateful stack does not depend on the stateless one', () => {
    const json = JSON.stringify(stateful.toJSON());
    expect(json).not.toMatch(/Stateless/);
  });
});
