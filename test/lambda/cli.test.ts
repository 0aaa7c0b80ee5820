import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { toAttributes } from '../../lambda/traffic/dynamo-items';
import { mockClient } from 'aws-sdk-client-mock';
import { parseArgs, stackName, USAGE, UsageError } from '../../cli/args';
import { formatStatus } from '../../cli/format';
import { formatHealthResults, runHealthcheck, testListenerOf } from '../../cli/healthcheck';
import { HttpRequest } from '../../lambda/release/pretraffic';
import { COLOR_HEADER } from '../../lambda/shared/topology';
import { ENVIRONMENTS } from '../../config';
import { classifyError, EnvironmentError, loadTopology, main } from '../../cli/traffic';
import { EnvironmentState } from '../../lambda/traffic';
import { topology } from './helpers';

describe('GIVEN CLI arguments', () => {
  test.each([
    [['status', '--env', 'dev'], { command: 'status', env: 'dev' }],
    [
      ['shift', '--env', 'staging', '--to', 'green', '--percent', '10', '--profile', 'p', '--region', 'eu-west-1'],
      { command: 'shift', env: 'staging', to: 'green', percent: 10, profile: 'p', region: 'eu-west-1' },
    ],
    [['shift', '--env=dev', '--to=blue', '--percent=0', '--service', 'frontend'], { command: 'shift', env: 'dev', to: 'blue', percent: 0, service: 'frontend' }],
    [['promote', '--env', 'production', '--reason', 'go'], { command: 'promote', env: 'production', reason: 'go' }],
    [['rollback', '--env', 'dev'], { command: 'rollback', env: 'dev', keepOther: false }],
    [['rollback', '--env', 'dev', '--to', 'blue', '--keep-other'], { command: 'rollback', env: 'dev', to: 'blue', keepOther: true }],
    [['scale', '--env', 'dev', '--color', 'green', '--count', '3'], { command: 'scale', env: 'dev', color: 'green', count: 3 }],
    [['scale', '--env', 'dev', '--color', 'green', '--restore'], { command: 'scale', env: 'dev', color: 'green', restore: true }],
    [['healthcheck', '--color', 'green', '--env', 'staging'], { command: 'healthcheck', env: 'staging', color: 'green' }],
    [
      ['healthcheck', '--env', 'dev', '--color', 'green', '--base-url', 'https://g.example.com/'],
      { command: 'healthcheck', env: 'dev', color: 'green', baseUrl: 'https://g.example.com' },
    ],
    [['status', '--env', 'dev', '--endpoint', 'http://127.0.0.1:5000'], { command: 'status', env: 'dev', endpoint: 'http://127.0.0.1:5000' }],
  ])('WHEN argv is %j THEN it parses', (argv, expected) => {
    expect(parseArgs(argv)).toEqual(expected);
  });

  test.each([
    [[], 'a command is required'],
    [['deploy', '--env', 'dev'], "unknown command 'deploy'"],
    [['status'], '--env is required'],
    [['status', '--env', 'qa'], "unknown environment 'qa' (one of dev, staging, production)"],
    [['status', '--env'], '--env needs a value'],
    [['status', '--env', 'dev', '--env', 'dev'], '--env given more than once'],
    [['status', '--env', 'dev', '--bogus'], 'unknown option --bogus'],
    [['status', '--env', 'dev', '--to', 'green'], '--to is not an option of status'],
    [['status', 'extra', '--env', 'dev'], "one command expected, got 'status extra'"],
    [['shift', '--env', 'dev', '--percent', '10'], '--to is required'],
    [['shift', '--env', 'dev', '--to', 'red', '--percent', '10'], "--to must be one of blue, green, got 'red'"],
    [['shift', '--env', 'dev', '--to', 'green'], '--percent is required'],
    [['shift', '--env', 'dev', '--to', 'green', '--percent', '101'], "--percent must be an integer 0–100, got '101'"],
    [['shift', '--env', 'dev', '--to', 'green', '--percent', '1.5'], "--percent must be an integer 0–100, got '1.5'"],
    [['shift', '--env', 'dev', '--to', 'green', '--percent', '10', '--service', 'Front End'], '--service must be a service name of the environment (e.g. frontend), got "Front End"'],
    [['scale', '--env', 'dev', '--color', 'green'], '--count is required'],
    [['scale', '--env', 'dev', '--color', 'green', '--count', '-1'], "--count must be an integer 0–1000, got '-1'"],
    [['scale', '--env', 'dev', '--color', 'green', '--count', 'x'], "--count must be an integer 0–1000, got 'x'"],
    [['scale', '--env', 'dev', '--color', 'green', '--count', '1', '--restore'], 'give either --count or --restore, not both'],
    [['scale', '--env', 'dev', '--color', 'green', '--restore=yes'], '--restore takes no value'],
    [['healthcheck', '--env', 'dev'], '--color is required'],
    [['healthcheck', '--env', 'dev', '--color', 'green', '--to', 'blue'], '--to is not an option of healthcheck'],
    [['healthcheck', '--env', 'dev', '--color', 'green', '--base-url', 'ftp://x'], "--base-url must be an http(s) URL, got 'ftp://x'"],
    [['status', '--env', 'dev', '--endpoint', 'localhost'], "--endpoint must be an http(s) URL, got 'localhost'"],
  ])('fails WHEN argv is %j THEN UsageError says %p', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(UsageError);
    expect(() => parseArgs(argv)).toThrow(message);
  });

  test('WHEN --help is given THEN the usage text is the error', () => {
    expect(() => parseArgs(['--help'])).toThrow(USAGE);
  });

  test('WHEN naming stacks THEN the stage is capitalised', () => {
    expect(['dev', 'staging', 'production'].map((e) => stackName(e as 'dev'))).toEqual(['Dev-Stateless', 'Staging-Stateless', 'Production-Stateless']);
  });
});

describe('GIVEN the CLI entry point without AWS', () => {
  async function run(argv: string[], httpGet?: (req: HttpRequest) => Promise<number>) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, { stdout: (l) => out.push(l), stderr: (l) => err.push(l), httpGet });
    return { code, out: out.join('\n'), err };
  }

  test('fails WHEN the environment is unknown THEN exit 2 with one line on stderr', async () => {
    const r = await run(['status', '--env', 'qa']);
    expect(r.code).toBe(2);
    expect(r.err).toEqual(["error: unknown environment 'qa' (one of dev, staging, production) (see --help)"]);
  });

  test('WHEN --help is given THEN usage goes to stdout and exit 0', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('usage:');
  });

  test("WHEN every check answers its status THEN healthcheck requests each service's own checks through the test listener with the color header and exits 0", async () => {
    const seen: HttpRequest[] = [];
    const r = await run(['healthcheck', '--color', 'green', '--env', 'staging'], async (req) => {
      seen.push(req);
      return 200;
    });
    expect(r.code).toBe(0);
    expect(r.err).toEqual([]);
    expect(seen.map((q) => q.url).sort()).toEqual([
      'https://api.staging.example.com:8443/health',
      'https://api.staging.example.com:8443/health/db',
      'https://api.staging.example.com:8443/health/external',
      'https://api.staging.example.com:8443/health/redis',
      // The frontend serves /health only (README, "Runtime contract"): nothing else is requested there.
      'https://staging.example.com:8443/health',
    ]);
    // Host comes from the URL; only the color header is added.
    for (const q of seen) expect(q.headers).toEqual({ 'x-release-color': 'green' });
    expect(r.out).toContain('healthcheck green in staging through the test listener');
    expect(r.out).toMatch(/PASS\s+backend\s+\/health\/redis\s+HTTP 200\s+\(\d+ ms\)/);
    expect(r.out).toContain('all 5 checks passed');
  });

  test('WHEN --base-url is given THEN every request goes there with the service host and color header kept', async () => {
    const seen: HttpRequest[] = [];
    const r = await run(['healthcheck', '--env', 'dev', '--color', 'blue', '--base-url', 'http://127.0.0.1:9/'], async (req) => {
      seen.push(req);
      return 200;
    });
    expect(r.code).toBe(0);
    expect(seen.every((q) => q.url.startsWith('http://127.0.0.1:9/health'))).toBe(true);
    expect(seen.map((q) => q.headers.host).sort()).toEqual([...Array(4).fill('api.dev.example.com'), 'dev.example.com']);
    expect(seen.every((q) => q.headers['x-release-color'] === 'blue')).toBe(true);
    expect(r.out).toContain('requests sent to http://127.0.0.1:9');
  });

  test('fails WHEN one endpoint answers 503 and one cannot be reached THEN healthcheck prints both and exits 1', async () => {
    const r = await run(['healthcheck', '--env', 'dev', '--color', 'green'], async (req) => {
      if (req.url === 'https://api.dev.example.com:8443/health/db') return 503;
      if (req.url === 'https://dev.example.com:8443/health') throw new Error('connect ECONNREFUSED');
      if (req.url === 'https://api.dev.example.com:8443/health/redis') return 204;
      return 200;
    });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FAIL\s+backend\s+\/health\/db\s+HTTP 503 \(expected 200\)/);
    expect(r.out).toMatch(/FAIL\s+frontend\s+\/health\s+connect ECONNREFUSED/);
    // The status is the configured one, not any 2xx.
    expect(r.out).toMatch(/FAIL\s+backend\s+\/health\/redis\s+HTTP 204 \(expected 200\)/);
    expect(r.out).toMatch(/PASS\s+backend\s+\/health\/external\s+HTTP 200/);
    expect(r.out).toContain('3 of 5 checks failed');
  });
});

describe('GIVEN the environment config', () => {
  test('WHEN building the test listener THEN it matches the topology the stateless stack renders', () => {
    expect(COLOR_HEADER).toBe('X-Release-Color');
    expect(testListenerOf('production')).toEqual({
      port: 8443,
      colorHeader: 'X-Release-Color',
      hosts: { frontend: 'example.com', backend: 'api.example.com' },
      checks: { frontend: ENVIRONMENTS.production.services.frontend.preTrafficChecks, backend: ENVIRONMENTS.production.services.backend.preTrafficChecks },
    });
  });

  test('fails WHEN an endpoint does not answer within the timeout THEN it is reported as timed out', async () => {
    const listener = testListenerOf('dev');
    const results = await runHealthcheck(listener, 'green', {
      timeoutMs: 20,
      get: (req) => (req.url.endsWith('/external') ? Promise.reject(new Error(`timed out after ${req.timeoutMs} ms`)) : Promise.resolve(200)),
    });
    expect(results.filter((r) => !r.ok).map((r) => [r.service, r.path, r.error])).toEqual([
      ['backend', '/health/external', 'timed out after 20 ms'],
    ]);
    expect(formatHealthResults('dev', 'green', listener, results)).toContain('1 of 5 checks failed');
  });
});

describe('GIVEN the stack lookup', () => {
  const cfn = mockClient(CloudFormationClient);
  const ddb = mockClient(DynamoDBClient);
  afterEach(() => {
    cfn.reset();
    ddb.reset();
  });
  afterAll(() => {
    cfn.restore();
    ddb.restore();
  });
  const client = new CloudFormationClient({ region: 'us-east-1' });
  const dynamodb = new DynamoDBClient({ region: 'us-east-1' });
  const withTable = { Stacks: [{ StackName: 'Dev-Stateless', StackStatus: 'UPDATE_COMPLETE' as const, CreationTime: new Date(), Outputs: [{ OutputKey: 'TopologyTable', OutputValue: 'dev-lock' }] }] };
  const stored = (document: string) => ({ Item: toAttributes({ pk: '#topology', document, version: 'v1', updatedAt: '2026-01-01T00:00:00Z' }) });

  test('WHEN the stack names its topology table THEN the stored document is read from it and parsed', async () => {
    cfn.on(DescribeStacksCommand, { StackName: 'Dev-Stateless' }).resolves(withTable);
    ddb.on(GetItemCommand, { TableName: 'dev-lock' }).resolves(stored(JSON.stringify(topology)));
    expect(await loadTopology(client, dynamodb, 'dev')).toEqual(topology);
    expect(ddb.commandCalls(GetItemCommand)[0].args[0].input).toMatchObject({ Key: { pk: { S: '#topology' } }, ConsistentRead: true });
  });

  test('fails WHEN the stack does not exist THEN EnvironmentError says it is not deployed', async () => {
    cfn.on(DescribeStacksCommand).rejects(Object.assign(new Error('Stack with id Production-Stateless does not exist'), { name: 'ValidationError', $metadata: {} }));
    await expect(loadTopology(client, dynamodb, 'production')).rejects.toThrow(new EnvironmentError('stack Production-Stateless is not deployed in us-east-1 (environment production)'));
  });

  test('fails WHEN the output is missing THEN EnvironmentError names it', async () => {
    cfn.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'Dev-Stateless', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date(), Outputs: [] }] });
    await expect(loadTopology(client, dynamodb, 'dev')).rejects.toThrow('stack Dev-Stateless has no output named TopologyTable');
  });

  test('fails WHEN the table holds no topology THEN EnvironmentError says to deploy', async () => {
    cfn.on(DescribeStacksCommand).resolves(withTable);
    ddb.on(GetItemCommand).resolves({});
    const err = await loadTopology(client, dynamodb, 'dev').catch((e) => e);
    expect(err).toBeInstanceOf(EnvironmentError);
    expect(err.message).toContain('no topology in table dev-lock');
  });

  test('fails WHEN the stored document is not a valid topology THEN EnvironmentError says why on one line', async () => {
    cfn.on(DescribeStacksCommand).resolves(withTable);
    ddb.on(GetItemCommand).resolves(stored('{"environment":"dev"}'));
    const err = await loadTopology(client, dynamodb, 'dev').catch((e) => e);
    expect(err).toBeInstanceOf(EnvironmentError);
    expect(err.message).not.toContain('\n');
    expect(err.message).toContain('clusterName must be a non-empty string');
  });

  test('fails WHEN credentials are missing or rejected THEN the error becomes an EnvironmentError', () => {
    expect(classifyError(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }))).toBeInstanceOf(EnvironmentError);
    expect(classifyError(Object.assign(new Error('expired'), { name: 'ExpiredTokenException' }))).toBeInstanceOf(EnvironmentError);
    expect(classifyError(new Error('Region is missing'))).toBeInstanceOf(EnvironmentError);
    const other = new Error('boom');
    expect(classifyError(other)).toBe(other);
  });
});

describe('GIVEN a state to print', () => {
  test('WHEN formatting status THEN each service and color is a row and the idle color’s config fields are named', () => {
    const color = (c: 'blue' | 'green', weight: number) => ({
      color: c,
      serviceName: `x-${c}`,
      found: true,
      desiredCount: 2,
      runningCount: 1,
      version: c === 'blue' ? '1.0.0' : '1.1.0',
      targetGroupArn: 'tg',
      weight,
      percent: weight,
      targets: { byAz: { 'us-east-1b': { healthy: 1, unhealthy: 0 }, 'us-east-1a': { healthy: 1, unhealthy: 1 } }, healthy: 2, registered: 3 },
    });
    const svc = (s: 'frontend' | 'backend') => ({ service: s, listenerRuleArn: 'r', weights: { blue: 90, green: 10 }, colors: { blue: color('blue', 90), green: color('green', 10) }, liveColor: 'blue' as const, idleColor: 'green' as const });
    const state: EnvironmentState = {
      environment: 'staging',
      readAt: '2030-01-01T00:00:00.000Z',
      services: { frontend: svc('frontend'), backend: svc('backend') },
      liveColor: 'blue',
      idleColor: 'green',
      alarms: [{ name: 'a1', color: 'green', state: 'ALARM' }],
      lock: { environment: 'staging', owner: 'cli:me@h:1', expiresAt: 1893456900, expired: false },
    };
    const text = formatStatus(state, 'staging');
    expect(text).toMatch(/frontend\s+green\s+idle\s+10\s+10%\s+us-east-1a 1\/2, us-east-1b 1\/1\s+2\/1\s+1\.1\.0/);
    expect(text).toContain('live color: blue (every service)');
    expect(text).toContain('release lock: cli:me@h:1 until 2030-01-01T00:15:00.000Z');
    expect(text).toMatch(/ALARM\s+a1 \(green\)/);
    expect(text).toContain('config/staging.ts → services.backend.colors.green.version');
  });
});
