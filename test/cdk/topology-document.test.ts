/**
 * Finding 5 of the deploy-ready issue: the topology is no longer in Lambda environment variables (4 KB for all of a
 * function's variables); it is stored once per environment by Custom::TopologyDocument and every reader gets only
 * the table and the document's version.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { TRAFFIC_RESOURCE_SERVICE_TIMEOUT } from '../../lib/traffic-resources';
import { synthEnvironment } from './support';

const { stateless, monitoring } = synthEnvironment('production');
const functions = Object.entries(stateless.findResources('AWS::Lambda::Function')) as [string, any][];
const lockId = Object.keys(stateless.findResources('AWS::DynamoDB::GlobalTable')).find((id) => id.startsWith('TrafficControlLock'))!;
const documentId = Object.keys(stateless.findResources('Custom::TopologyDocument'))[0];
const readers = functions.filter(([, f]) => f.Properties.Environment?.Variables?.TOPOLOGY_TABLE);

describe('GIVEN production synthesized', () => {
  test('THEN no function carries the topology in its environment', () => {
    for (const [id, f] of functions) expect({ id, vars: Object.keys(f.Properties.Environment?.Variables ?? {}) }).toEqual({ id, vars: expect.not.arrayContaining(['TOPOLOGY']) });
  });

  test('THEN the switch, rollback, release, backup, judge and preflight checks handlers read the stored document, with its version in their configuration', () => {
    expect(readers.map(([id]) => id.replace(/[A-F0-9]{8}$/, '')).sort()).toEqual(
      ['AutomatedRollbackHandlerFunction', 'ReleaseBackupHandlerFunction', 'ReleaseHandlerFunction', 'ReleaseJudgeHandlerFunction', 'ReleasePreflightChecksHandlerFunction', 'TrafficControlSwitchFunction'].sort(),
    );
    for (const [, f] of readers) {
      expect(f.Properties.Environment.Variables.TOPOLOGY_TABLE).toEqual({ Ref: lockId });
      // The version is an attribute of the custom resource: a changed document changes the function's configuration
      // (no warm environment keeps an old copy), and CloudFormation creates the function only after the write.
      expect(f.Properties.Environment.Variables.TOPOLOGY_VERSION).toEqual({ 'Fn::GetAtt': [documentId, 'Version'] });
    }
  });

  test('THEN the document is the topology as one JSON string in the lock table, with a bounded service timeout', () => {
    const [doc] = Object.values(stateless.findResources('Custom::TopologyDocument')) as any[];
    expect(doc.Properties.TableName).toEqual({ Ref: lockId });
    expect(doc.Properties.Document['Fn::Join']).toBeDefined();
    expect(doc.Properties.ServiceTimeout).toBe(String(TRAFFIC_RESOURCE_SERVICE_TIMEOUT.toSeconds()));
    expect(doc.Properties.ServiceToken).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^TrafficResourcesHandlerFunction/), 'Arn'] });
    // The document as deployed: the topology rendered into the template (no construct tree needed).
    const rendered = JSON.stringify(doc.Properties.Document);
    for (const name of ['clusterName', 'rollbackAlarmNames', 'comparisonAlarmNames', 'notificationTopicArn', 'testListener', 'checks']) expect(rendered).toContain(name);
  });

  test('THEN crash detection (monitoring stack) reads the same document through the stateless stack\'s exports', () => {
    const [[, fn]] = Object.entries(monitoring.findResources('AWS::Lambda::Function')).filter(([id]) => id.startsWith('CrashDetectionHandlerFunction')) as [string, any][];
    expect(fn.Properties.Environment.Variables.TOPOLOGY_TABLE).toEqual({ 'Fn::ImportValue': expect.stringMatching(/^Production-Stateless:ExportsOutputRefTrafficControlLock/) });
    expect(fn.Properties.Environment.Variables.TOPOLOGY_VERSION).toEqual({ 'Fn::ImportValue': expect.stringMatching(/^Production-Stateless:ExportsOutputFnGetAttTrafficControlTopology.*Version/) });
  });

  test('THEN every reader may GetItem on the lock table and the provider may write and delete the item', () => {
    const policies = Object.values(stateless.findResources('AWS::IAM::Policy')) as any[];
    const allows = (roleRef: string, action: string) =>
      policies
        .filter((p) => p.Properties.Roles.some((r: any) => r.Ref === roleRef))
        .flatMap((p) => p.Properties.PolicyDocument.Statement)
        .some((s: any) => [s.Action].flat().includes(action) && [s.Resource].flat().some((r: any) => JSON.stringify(r).includes(lockId!)));
    for (const [, f] of readers) expect(allows(f.Properties.Role['Fn::GetAtt'][0], 'dynamodb:GetItem')).toBe(true);
    const provider = functions.find(([id]) => id.startsWith('TrafficResourcesHandlerFunction'))![1];
    for (const action of ['dynamodb:PutItem', 'dynamodb:DeleteItem']) expect(allows(provider.Properties.Role['Fn::GetAtt'][0], action)).toBe(true);
  });

  test('THEN the stack outputs the table, not the topology', () => {
    stateless.hasOutput('TopologyTable', { Value: { Ref: lockId } });
    expect(stateless.findOutputs('Topology')).toEqual({});
    stateless.hasResourceProperties('Custom::TopologyDocument', { TableName: Match.anyValue() });
  });
});
