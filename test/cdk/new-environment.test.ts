/**
 * Issue 10, "Environments": a new environment is one file in config/ and one line in ENVIRONMENTS. Here `qa`, a copy
 * of staging with its own name, account, CIDR, hosted zone, domain and access, built with the three shipped ones.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { ConfigError, ENVIRONMENTS, type EnvironmentConfig } from '../../config';
import { buildApp } from '../../lib/app';
import { resourcesOf, TEST_CONTEXT } from './support';

const qa: EnvironmentConfig = {
  ...ENVIRONMENTS.staging,
  name: 'qa',
  account: '444444444444',
  services: {
    frontend: { ...ENVIRONMENTS.staging.services.frontend, host: 'qa.example.com', environment: { NODE_ENV: 'production', API_URL: 'https://api.qa.example.com' } },
    backend: { ...ENVIRONMENTS.staging.services.backend, host: 'api.qa.example.com' },
  },
  hostedZone: { zoneId: 'Z00000000000QAEXAMPLE', zoneName: 'qa.example.com' },
  network: { ...ENVIRONMENTS.staging.network, cidr: '10.40.0.0/16' },
  access: [{ cidr: '198.51.100.128/25', description: 'QA Team' }],
  // No pipeline for qa: no Cicd stack (README, "CI/CD").
  cicd: undefined,
};

describe('GIVEN an extra environment qa (tier pre-production)', () => {
  const { app, stages } = buildApp({ environments: [...Object.values(ENVIRONMENTS), qa], context: TEST_CONTEXT });
  const stateless = Template.fromStack(stages.qa.stateless);

  test('THEN it is a stage Qa of three stacks in its own account, next to the shipped ones', () => {
    expect(Object.keys(stages)).toEqual(['dev', 'staging', 'production', 'qa']);
    expect(app.node.findChild('Qa')).toBe(stages.qa);
    expect(stages.qa.stageName).toBe('Qa');
    expect([stages.qa.stateful.stackName, stages.qa.stateless.stackName, stages.qa.monitoring.stackName]).toEqual(['Qa-Stateful', 'Qa-Stateless', 'Qa-Monitoring']);
    expect(stages.qa.account).toBe('444444444444');
    // The deploy role's stack exists where config `cicd` is set only.
    expect(stages.qa.cicd).toBeUndefined();
    expect(stages.qa.node.tryFindChild('Cicd')).toBeUndefined();
    expect(stages.staging.cicd?.stackName).toBe('Staging-Cicd');
  });

  test('THEN its own domain, network and access are built', () => {
    Template.fromStack(stages.qa.stateful).hasResourceProperties('AWS::EC2::VPC', { CidrBlock: '10.40.0.0/16' });
    stateless.hasResourceProperties('AWS::CertificateManager::Certificate', { DomainName: 'qa.example.com', SubjectAlternativeNames: ['api.qa.example.com'] });
    const [[id]] = resourcesOf(stateless, 'AWS::EC2::SecurityGroup').filter(([logicalId]) => logicalId.startsWith('LoadBalancerSecurityGroup'));
    const ingress: any[] = stateless.toJSON().Resources[id].Properties.SecurityGroupIngress;
    expect(ingress.filter((r) => r.FromPort === 443 || r.FromPort === 80).map((r) => [r.FromPort, r.CidrIp])).toEqual([
      [443, '198.51.100.128/25'],
      [80, '198.51.100.128/25'],
    ]);
  });

  test('THEN the tier rules apply to it: a pre-production tier keeps its data and may not be built without', () => {
    const unprotected = { ...qa, database: { ...qa.database, protectData: false } };
    expect(() => buildApp({ environments: [unprotected], context: TEST_CONTEXT })).toThrow(ConfigError);
    expect(() => buildApp({ environments: [unprotected], context: TEST_CONTEXT })).toThrow(
      /config\/qa\.ts has 1 problem:\n {2}- database\.protectData = false: pre-production data must survive a stack deletion/,
    );
  });

  test('fails WHEN it is given the production tier with restricted access THEN it is told to make it public', () => {
    const live = { ...qa, tier: 'production' as const };
    expect(() => buildApp({ environments: [live], context: TEST_CONTEXT })).toThrow(/config\/qa\.ts has \d+ problems:[\s\S]*- access = .*production tier serves customers/);
  });
});
