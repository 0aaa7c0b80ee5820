/**
 * Issue 10, "Services": services are data. The acceptance check copies an existing service's entry under a new key
 * with a new host and expects everything a service gets; ten services in every environment stay within
 * CloudFormation's quotas with the deploy-invariant pack clean (synthEnvironment runs the cdk-nag packs).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { ENVIRONMENTS, type EnvironmentConfig, type ServiceConfig } from '../../config';
import { hostPriorities } from '../../lib/routing';
import { withServices } from '../../scripts/lib/more-services';
import { buildApp } from '../../lib/app';
import { resourcesOf, synthEnvironment, TEST_CONTEXT } from './support';

/** The environment with `copies` added, each a copy of an existing entry under a new name and host. */
function withCopies(c: EnvironmentConfig, copies: Record<string, { of: string; host: string }>): EnvironmentConfig {
  const services: Record<string, ServiceConfig> = { ...c.services };
  for (const [name, { of, host }] of Object.entries(copies)) services[name] = { ...c.services[of], host, runsMigration: false };
  return { ...c, services };
}

const refTo = (prefix: string) => ({ Ref: Match.stringLikeRegexp(`^${prefix}`) });

describe('GIVEN dev with a copy of backend under "search" at search.dev.example.com', () => {
  const { stage, stateless } = synthEnvironment('dev', (c) => withCopies(c, { search: { of: 'backend', host: 'search.dev.example.com' } }));

  test('THEN search has both colors: ECS services, task definitions and target groups', () => {
    for (const color of ['Blue', 'Green']) {
      expect(resourcesOf(stateless, 'AWS::ECS::Service').filter(([id]) => id.startsWith(`Search${color}Service`))).toHaveLength(1);
      expect(resourcesOf(stateless, 'AWS::ECS::TaskDefinition').filter(([id]) => id.startsWith(`Search${color}Task`))).toHaveLength(1);
      stateless.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', Match.objectLike({ HealthCheckPath: '/health', Port: 8080 }));
      expect(resourcesOf(stateless, 'AWS::ElasticLoadBalancingV2::TargetGroup').filter(([id]) => id.startsWith(`Search${color}TargetGroup`))).toHaveLength(1);
    }
  });

  test('THEN its weighted host rule starts at blue 100 / green 0, at the priority its host gives, with test rules above it', () => {
    const priority = hostPriorities(Object.values(stage.stateless.config.services).map((s) => s.host))['search.dev.example.com'];
    stateless.hasResourceProperties('Custom::WeightedListenerRule', {
      Priority: priority,
      Conditions: [{ Field: 'host-header', HostHeaderConfig: { Values: ['search.dev.example.com'] } }],
      TargetGroups: { blue: refTo('SearchBlueTargetGroup'), green: refTo('SearchGreenTargetGroup') },
      InitialWeights: { blue: 100, green: 0 },
    });
    for (const [i, color] of ['blue', 'green'].entries()) {
      stateless.hasResourceProperties('AWS::ElasticLoadBalancingV2::ListenerRule', {
        Priority: priority + 1 + i,
        Conditions: Match.arrayWith([Match.objectLike({ HostHeaderConfig: { Values: ['search.dev.example.com'] } }), Match.objectLike({ HttpHeaderConfig: { HttpHeaderName: 'X-Release-Color', Values: [color] } })]),
      });
    }
  });

  test('THEN its rollback triggers exist per color and are in that color\'s composite', () => {
    for (const color of ['Blue', 'Green']) {
      const ids = resourcesOf(stateless, 'AWS::CloudWatch::Alarm').map(([id]) => id).filter((id) => id.startsWith(`RollbackAlarms${color}Search`));
      expect(ids.map((id) => id.replace(/[0-9A-F]{8}$/, ''))).toEqual(
        ['ErrorRate', 'FastBurn', 'Latency', 'Unhealthy', 'ErrorRateVsStable', 'P99VsStable'].map((t) => `RollbackAlarms${color}Search${t}`),
      );
      const [[, composite]] = resourcesOf(stateless, 'AWS::CloudWatch::CompositeAlarm').filter(([id]) => id.startsWith(`RollbackAlarms${color}Rollback`));
      const rule = JSON.stringify(composite.Properties.AlarmRule);
      for (const id of ids) expect(rule).toContain(id);
    }
  });

  test('THEN the topology gives traffic control its rule, colors, host and pre-traffic checks', () => {
    const t = stage.stateless.trafficControl.topology;
    expect(Object.keys(t.services)).toEqual(['frontend', 'backend', 'search']);
    expect(t.testListener!.hosts.search).toBe('search.dev.example.com');
    expect(t.testListener!.checks.search).toEqual(ENVIRONMENTS.dev.services.backend.preTrafficChecks);
    expect(Object.keys(t.services.search.colors)).toEqual(['blue', 'green']);
  });

  test('THEN its host is on the certificate and has an alias record, and its tasks may reach what backend reaches', () => {
    stateless.hasResourceProperties('AWS::CertificateManager::Certificate', {
      SubjectAlternativeNames: Match.arrayWith(['search.dev.example.com']),
    });
    stateless.hasResourceProperties('AWS::Route53::RecordSet', { Name: 'search.dev.example.com.', Type: 'A' });
    const portsFrom = (prefix: string) => {
      const [[sgId]] = resourcesOf(stateless, 'AWS::EC2::SecurityGroup').filter(([id]) => id.startsWith(prefix));
      const ingress = resourcesOf(stateless, 'AWS::EC2::SecurityGroupIngress').filter(([, r]) => JSON.stringify(r.Properties.SourceSecurityGroupId).includes(sgId));
      return ingress.map(([, r]) => r.Properties.FromPort).sort();
    };
    expect(portsFrom('SearchTasks')).toHaveLength(2); // the database and the cache
    expect(portsFrom('SearchTasks')).toEqual(portsFrom('BackendTasks'));
  });

  test('THEN only one service runs the migration', () => {
    const migrations = resourcesOf(stateless, 'AWS::ECS::TaskDefinition').filter(([id]) => id.includes('MigrationTask'));
    expect(migrations.map(([id]) => id.replace(/MigrationTask.*$/, ''))).toEqual(['BackendBlue', 'BackendGreen']);
  });
});

describe('GIVEN dev with a copy of frontend under "admin" (no data access)', () => {
  const { stateless } = synthEnvironment('dev', (c) => withCopies(c, { admin: { of: 'frontend', host: 'admin.dev.example.com' } }));

  test('THEN its tasks reach no data store and get no data settings or credentials', () => {
    const [[sgId]] = resourcesOf(stateless, 'AWS::EC2::SecurityGroup').filter(([id]) => id.startsWith('AdminTasks'));
    const ingress = resourcesOf(stateless, 'AWS::EC2::SecurityGroupIngress').filter(([, r]) => JSON.stringify(r.Properties.SourceSecurityGroupId).includes(sgId));
    expect(ingress).toHaveLength(0);
    const [[, task]] = resourcesOf(stateless, 'AWS::ECS::TaskDefinition').filter(([id]) => id.startsWith('AdminBlueTask'));
    const app = task.Properties.ContainerDefinitions.find((d: { Name: string }) => d.Name === 'App');
    expect(app.Environment.map((e: { Name: string }) => e.Name).sort()).toEqual(['API_URL', 'APP_COLOR', 'APP_VERSION', 'NODE_ENV', 'PORT']);
    expect(app.Secrets).toBeUndefined();
  });
});

describe('GIVEN ten services in every environment', () => {
  const ten = (c: EnvironmentConfig) => withServices(c, 10);

  test('THEN synth passes cdk-nag: AwsSolutions, PCI DSS and the deploy-invariant pack (stack quotas within 90 %, IAM policy sizes, Lambda environments, event patterns)', () => {
    // The packs are validation plugins of the App: they run on the App's synth, not on a stage's (Template.fromStack),
    // so this synthesizes the whole app as bin/app.ts does (bundling skipped), all environments with ten services.
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'ten-services-'));
    try {
      const { app } = buildApp({ environments: Object.values(ENVIRONMENTS).map(ten), context: TEST_CONTEXT, outdir });
      expect(() => app.synth()).not.toThrow();
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });

  test.each(Object.keys(ENVIRONMENTS))('THEN every stack of %s stays within 500 resources, 200 outputs and 1 MB', (env) => {
    const synthesized = synthEnvironment(env, ten);
    for (const template of [synthesized.stateful, synthesized.stateless, synthesized.monitoring]) {
      const json = template.toJSON();
      expect(Object.keys(json.Resources).length).toBeLessThanOrEqual(500);
      expect(Object.keys(json.Outputs ?? {}).length).toBeLessThanOrEqual(200);
      expect(JSON.stringify(json).length).toBeLessThan(1024 * 1024);
    }
    // The topology document as deployed names all ten services, each with its weighted rule.
    const names = Object.keys(ten(ENVIRONMENTS[env]).services);
    expect(names).toHaveLength(10);
    const [[, doc]] = resourcesOf(synthesized.stateless, 'Custom::TopologyDocument');
    const rendered = JSON.stringify(doc.Properties.Document);
    for (const name of names) expect({ name, inDocument: rendered.includes(`\\"${name}\\":{`) }).toEqual({ name, inDocument: true });
    expect(resourcesOf(synthesized.stateless, 'AWS::ECS::Service')).toHaveLength(20);
    // The composite of each color references at most 100 alarms (PutCompositeAlarm's limit).
    for (const color of ['Blue', 'Green']) {
      const [[, composite]] = resourcesOf(synthesized.stateless, 'AWS::CloudWatch::CompositeAlarm').filter(([id]) => id.startsWith(`RollbackAlarms${color}Rollback`));
      const alarms = JSON.stringify(composite.Properties.AlarmRule).match(/ALARM\(/g) ?? [];
      expect(alarms.length).toBeGreaterThan(0);
      expect(alarms.length).toBeLessThanOrEqual(100);
    }
  });
});
