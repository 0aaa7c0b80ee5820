/**
 * The custom resource handler and the response protocol (cfn.ts): dispatch by resource type, exactly one
 * response PUT to the pre-signed ResponseURL, `failed-<RequestId>` for a failed Create.
 */
// First: sets the SDK's Node-version warning switch before handler.ts creates its module-level clients.
import { countsProps, createEvent, deleteEvent, guardProps, RESPONSE_URL, ruleProps, STACK_ID, updateEvent } from './events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ApplicationAutoScalingClient,
  DeregisterScalableTargetCommand,
  RegisterScalableTargetCommand,
} from '@aws-sdk/client-application-auto-scaling';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { CreateRuleCommand, DescribeRulesCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import type { Context } from 'aws-lambda';
import { intProp, respond, sendResponse, stringProp, UPLOAD_TIMEOUT_MS } from '../../lambda/custom-resources/cfn';
import { createCustomResourceClients, dispatch, handle, handler, RESPONSE_MARGIN_MS } from '../../lambda/custom-resources/handler';
import { logger } from '../../lambda/traffic/logger';

logger.setLogLevel('SILENT');
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const LISTENER = 'arn:aws:elasticloadbalancing:us-east-1:1:listener/app/dev/lb1/l1';
const RULE = 'arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/dev/lb1/l1/r1';
const BLUE = 'arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/fe-blue/b1';
const GREEN = 'arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/fe-green/g1';
const rule = ruleProps({ listenerArn: LISTENER, blueTg: BLUE, greenTg: GREEN });
const guarded = { ruleArn: RULE, blueTg: BLUE, greenTg: GREEN, blueVersion: '1.0.0', greenVersion: '1.1.0' };
const guard = guardProps('dev', { frontend: guarded, backend: guarded });
const counts = countsProps({ clusterName: 'dev-cluster', blueService: 'fe-blue', greenService: 'fe-green', scaling: { min: '2', max: '6' } });

const elbv2Mock = mockClient(ElasticLoadBalancingV2Client);
const ecsMock = mockClient(ECSClient);
const aasMock = mockClient(ApplicationAutoScalingClient);
const clients = {
  elbv2: new ElasticLoadBalancingV2Client({ region: 'us-east-1' }),
  ecs: new ECSClient({ region: 'us-east-1' }),
  autoscaling: new ApplicationAutoScalingClient({ region: 'us-east-1' }),
  dynamodb: new DynamoDBClient({ region: 'us-east-1' }),
};

/** An injected `put` that records every upload. */
function recorder(fail: (attempt: number) => Error | undefined = () => undefined) {
  const uploads: Array<{ url: string; body: any }> = [];
  const put = jest.fn(async (url: string, body: string) => {
    const error = fail(uploads.length + 1);
    uploads.push({ url, body: JSON.parse(body) });
    if (error) throw error;
  });
  return { put, uploads };
}

beforeEach(() => {
  elbv2Mock.reset();
  ecsMock.reset();
  aasMock.reset();
  elbv2Mock.on(CreateRuleCommand).resolves({ Rules: [{ RuleArn: RULE }] });
  elbv2Mock.on(DescribeRulesCommand).resolves({
    Rules: [{ RuleArn: RULE, Actions: [{ Type: 'forward', ForwardConfig: { TargetGroups: [{ TargetGroupArn: BLUE, Weight: 100 }, { TargetGroupArn: GREEN, Weight: 0 }] } }] }],
  });
  ecsMock.on(UpdateServiceCommand).resolves({});
  aasMock.on(RegisterScalableTargetCommand).resolves({});
  aasMock.on(DeregisterScalableTargetCommand).resolves({});
});

afterEach(() => jest.restoreAllMocks());

afterAll(() => {
  elbv2Mock.restore();
  ecsMock.restore();
  aasMock.restore();
});

describe('GIVEN dispatch', () => {
  test('WHEN the type is Custom::WeightedListenerRule THEN the weighted rule creates the rule', async () => {
    await expect(dispatch(createEvent('Custom::WeightedListenerRule', rule), clients)).resolves.toEqual({ physicalResourceId: RULE, data: { RuleArn: RULE } });
    expect(elbv2Mock.commandCalls(CreateRuleCommand)).toHaveLength(1);
  });

  test('WHEN the type is Custom::LiveImageGuard THEN the guard checks a version change against the rule', async () => {
    const next = guardProps('dev', { frontend: { ...guarded, blueVersion: '1.2.0' }, backend: guarded });

    await expect(dispatch(updateEvent('Custom::LiveImageGuard', 'G-guard', next, guard), clients)).rejects.toThrow(/frontend blue carries traffic/);
    expect(elbv2Mock.commandCalls(DescribeRulesCommand).length).toBeGreaterThan(0);
  });

  test('WHEN the type is Custom::ServiceCounts THEN the starting counts are set', async () => {
    await expect(dispatch(createEvent('Custom::ServiceCounts', counts, 'Counts'), clients)).resolves.toEqual({ physicalResourceId: 'Counts-counts' });
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(2);
  });

  test('WHEN the type is unknown THEN dispatch fails naming it', async () => {
    await expect(dispatch(createEvent('Custom::Nope', {}), clients)).rejects.toThrow('unknown custom resource type Custom::Nope');
  });
});

describe('GIVEN handle with an injected put', () => {
  test('WHEN a Create succeeds THEN one SUCCESS response with the physical ID and data is PUT to the ResponseURL', async () => {
    const { put, uploads } = recorder();

    await handle(createEvent('Custom::WeightedListenerRule', rule, 'FrontendRule', 'req-42'), clients, put);

    expect(uploads).toEqual([
      {
        url: RESPONSE_URL,
        body: {
          Status: 'SUCCESS',
          Reason: 'OK',
          PhysicalResourceId: RULE,
          StackId: STACK_ID,
          RequestId: 'req-42',
          LogicalResourceId: 'FrontendRule',
          NoEcho: false,
          Data: { RuleArn: RULE },
        },
      },
    ]);
  });

  test('WHEN a Create fails THEN FAILED is reported with physical ID failed-<RequestId> and the error as reason', async () => {
    elbv2Mock.on(CreateRuleCommand).rejects(Object.assign(new Error('Priority 10 is currently in use'), { name: 'PriorityInUseException', $metadata: { httpStatusCode: 400 } }));
    const { put, uploads } = recorder();

    await handle(createEvent('Custom::WeightedListenerRule', rule, 'FrontendRule', 'req-43'), clients, put);

    expect(uploads).toHaveLength(1);
    // The AWS error code comes first: it is what a human looks up.
    expect(uploads[0].body).toMatchObject({ Status: 'FAILED', PhysicalResourceId: 'failed-req-43', Reason: 'PriorityInUseException: Priority 10 is currently in use', RequestId: 'req-43' });
    expect(uploads[0].body.Data).toBeUndefined();
  });

  test('WHEN an Update fails THEN FAILED keeps the existing physical ID (no replacement is implied)', async () => {
    const next = guardProps('dev', { frontend: { ...guarded, blueVersion: '1.2.0' }, backend: guarded });
    const { put, uploads } = recorder();

    await handle(updateEvent('Custom::LiveImageGuard', 'Guard-guard', next, guard), clients, put);

    expect(uploads[0].body).toMatchObject({ Status: 'FAILED', PhysicalResourceId: 'Guard-guard' });
    expect(uploads[0].body.Reason).toContain('Refusing to deploy: frontend blue carries traffic');
  });

  test('WHEN the resource type is unknown THEN FAILED names the type', async () => {
    const { put, uploads } = recorder();

    await handle(createEvent('Custom::Nope', {}, 'X', 'req-44'), clients, put);

    expect(uploads[0].body).toMatchObject({ Status: 'FAILED', PhysicalResourceId: 'failed-req-44', Reason: 'unknown custom resource type Custom::Nope' });
  });

  const badProps: Array<[string, string, Record<string, unknown>, RegExp]> = [
    ['TargetGroups is missing', 'Custom::WeightedListenerRule', { ...rule, TargetGroups: undefined }, /property TargetGroups\.blue/],
    ['Priority is not numeric', 'Custom::WeightedListenerRule', { ...rule, Priority: 'high' }, /property Priority must be a whole number, got "high"/],
    ['InitialWeights.blue is 1000', 'Custom::WeightedListenerRule', { ...rule, InitialWeights: { blue: '1000', green: '0' } }, /property InitialWeights is invalid: .*blue weight must be an integer 0–999, got 1000/],
    ['ClusterName is missing', 'Custom::ServiceCounts', { ...counts, ClusterName: '' }, /property ClusterName/],
  ];

  test.each(badProps)('WHEN %s THEN the Create fails: FAILED names the property and nothing was called', async (_what, type, props, reason) => {
    const { put, uploads } = recorder();

    await handle(createEvent(type, props, 'R', 'req-bad'), clients, put);

    expect(uploads).toHaveLength(1);
    expect(uploads[0].body.Status).toBe('FAILED');
    expect(uploads[0].body.PhysicalResourceId).toBe('failed-req-bad');
    expect(uploads[0].body.Reason).toMatch(reason);
    expect([...elbv2Mock.calls(), ...ecsMock.calls(), ...aasMock.calls()]).toHaveLength(0);
  });

  test('WHEN the Delete after a failed Create arrives (failed-<RequestId>, bad properties) THEN every resource type reports SUCCESS', async () => {
    for (const [type, props] of [
      ['Custom::WeightedListenerRule', { ...rule, Priority: 'high' }],
      ['Custom::ServiceCounts', { ...counts, ClusterName: '' }],
      ['Custom::LiveImageGuard', { Environment: '' }],
    ] as const) {
      const { put, uploads } = recorder();
      await handle(deleteEvent(type, 'failed-req-bad', props), clients, put);
      expect(uploads[0].body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'failed-req-bad' });
    }
    expect([...elbv2Mock.calls(), ...ecsMock.calls(), ...aasMock.calls()]).toHaveLength(0);
  });

  /** Makes the upload backoff instant and records its delays. */
  function instantBackoff(): number[] {
    const delays: number[] = [];
    const real = globalThis.setTimeout;
    jest.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      delays.push(ms ?? 0);
      return real(fn, 0);
    }) as typeof setTimeout);
    return delays;
  }

  test('WHEN the first upload fails THEN it is retried after 200 ms and the same body is sent again', async () => {
    const delays = instantBackoff();
    const { put, uploads } = recorder((n) => (n === 1 ? new Error('socket hang up') : undefined));

    await handle(createEvent('Custom::ServiceCounts', counts, 'Counts'), clients, put);

    expect(put).toHaveBeenCalledTimes(2);
    expect(delays).toEqual([200]);
    expect(uploads[1].body).toEqual(uploads[0].body);
    expect(uploads[1].body.Status).toBe('SUCCESS');
  });

  test('WHEN uploading a SUCCESS keeps failing THEN the invocation fails after 3 attempts and never reports FAILED for a resource it made', async () => {
    const delays = instantBackoff();
    const { put, uploads } = recorder(() => new Error('HTTP 503'));

    await expect(handle(createEvent('Custom::WeightedListenerRule', rule, 'FrontendRule', 'req-45'), clients, put)).rejects.toThrow('HTTP 503');

    expect(put).toHaveBeenCalledTimes(3);
    // Backoff between attempts only: no wait after the last one.
    expect(delays).toEqual([200, 400]);
    expect(uploads.map((u) => u.body.Status)).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS']);
    expect(uploads.map((u) => u.body.PhysicalResourceId)).toEqual([RULE, RULE, RULE]);
  });
});

/** A Lambda context with `remainingMs` left. */
const lambdaContext = (remainingMs: number) => ({ getRemainingTimeInMillis: () => remainingMs }) as Context;

describe('GIVEN the Lambda entry point with fetch mocked', () => {
  test('WHEN invoked THEN the response is PUT with fetch to the ResponseURL', async () => {
    const fetchMock = jest.spyOn(globalThis, 'fetch').mockResolvedValue(new Response(null, { status: 200 }));

    await handler(createEvent('Custom::ServiceCounts', counts, 'Counts', 'req-46'), lambdaContext(60_000));

    expect(fetchMock).toHaveBeenCalledTimes(1);
    const [url, init] = fetchMock.mock.calls[0];
    expect(url).toBe(RESPONSE_URL);
    expect(init?.method).toBe('PUT');
    expect(JSON.parse(String(init?.body))).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'Counts-counts', RequestId: 'req-46' });
  });

  test('WHEN invoked with an unknown type THEN FAILED is PUT with fetch', async () => {
    const fetchMock = jest.spyOn(globalThis, 'fetch').mockResolvedValue(new Response(null, { status: 200 }));

    await handler(createEvent('Custom::Nope', {}, 'X', 'req-47'), lambdaContext(60_000));

    expect(JSON.parse(String(fetchMock.mock.calls[0][1]?.body))).toMatchObject({ Status: 'FAILED', PhysicalResourceId: 'failed-req-47' });
  });
});

describe('GIVEN the Lambda deadline (finding #13: a custom resource could hang a stack for an hour)', () => {
  /** A CreateRule that answers only when `release` is called. */
  function stalledCreateRule() {
    let release!: () => void;
    const answered = new Promise<void>((r) => (release = r));
    elbv2Mock.on(CreateRuleCommand).callsFake(async () => {
      await answered;
      return { Rules: [{ RuleArn: RULE }] };
    });
    return release;
  }

  test('WHEN the work is still running shortly before the deadline THEN FAILED is answered with a reason naming the resource, and a late success sends nothing more', async () => {
    const release = stalledCreateRule();
    const { put, uploads } = recorder();

    // 60 ms of budget before the response margin.
    await handle(createEvent('Custom::WeightedListenerRule', rule, 'FrontendRule', 'req-50'), clients, put, lambdaContext(RESPONSE_MARGIN_MS + 60));

    expect(uploads).toHaveLength(1);
    expect(uploads[0].body).toMatchObject({ Status: 'FAILED', PhysicalResourceId: 'failed-req-50', RequestId: 'req-50' });
    expect(uploads[0].body.Reason).toMatch(/^Custom::WeightedListenerRule FrontendRule \(Create\) did not finish within 0 s, before the function's timeout/);
    expect(uploads[0].body.Reason).toContain('deploy again');

    release();
    await new Promise((r) => setTimeout(r, 50));
    expect(elbv2Mock.commandCalls(CreateRuleCommand)).toHaveLength(1);
    expect(put).toHaveBeenCalledTimes(1);
  });

  // Review finding: after the deadline answer, the unfinished work resumed when Lambda thawed the environment for the
  // next request (CloudFormation's rollback) and could still write, racing the rollback.
  test('WHEN work answered FAILED at its deadline resumes later THEN its AWS calls are refused, not sent', async () => {
    // A real client (not mocked): the refusal is a middleware; nothing listens on the endpoint, so a sent call would fail differently.
    const real = createCustomResourceClients({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
    let resume!: () => void;
    const paused = new Promise<void>((r) => (resume = r));
    let late: unknown;
    const { put, uploads } = recorder();
    await respond(
      createEvent('Custom::WeightedListenerRule', rule, 'FrontendRule', 'req-60'),
      async () => {
        await paused;
        // DynamoDB: the one client class this file does not mock (aws-sdk-client-mock replaces send, skipping middleware).
        late = await real.dynamodb.send(new GetItemCommand({ TableName: 'lock', Key: { pk: { S: '#topology' } } })).catch((e: Error) => e);
        return { physicalResourceId: RULE };
      },
      { put, deadline: lambdaContext(RESPONSE_MARGIN_MS + 30) },
    );
    expect(uploads).toEqual([expect.objectContaining({ body: expect.objectContaining({ Status: 'FAILED' }) })]);
    resume();
    await new Promise((r) => setTimeout(r, 50));
    expect((late as Error).message).toBe('request already answered FAILED at its deadline: call not sent');
    expect(put).toHaveBeenCalledTimes(1);
  });

  test('WHEN an Update runs out of time THEN FAILED keeps the existing physical ID', async () => {
    elbv2Mock.on(DescribeRulesCommand).callsFake(() => new Promise(() => undefined));
    const { put, uploads } = recorder();

    await handle(updateEvent('Custom::WeightedListenerRule', RULE, rule, rule, 'FrontendRule'), clients, put, lambdaContext(RESPONSE_MARGIN_MS + 30));

    expect(uploads).toEqual([expect.objectContaining({ body: expect.objectContaining({ Status: 'FAILED', PhysicalResourceId: RULE }) })]);
  });

  test('WHEN less than the margin is left THEN FAILED is answered at once, without waiting for the work', async () => {
    stalledCreateRule();
    const { put, uploads } = recorder();
    const started = Date.now();

    await handle(createEvent('Custom::WeightedListenerRule', rule, 'FrontendRule', 'req-51'), clients, put, lambdaContext(1_000));

    expect(Date.now() - started).toBeLessThan(1_000);
    expect(uploads[0].body.Status).toBe('FAILED');
  });

  test('WHEN the work finishes before the deadline THEN its SUCCESS is the one answer', async () => {
    const { put, uploads } = recorder();

    await handle(createEvent('Custom::WeightedListenerRule', rule, 'FrontendRule', 'req-52'), clients, put, lambdaContext(60_000));

    expect(uploads.map((u) => u.body.Status)).toEqual(['SUCCESS']);
  });

  test('WHEN fake time runs to the deadline THEN FAILED is answered at the deadline less the margin, not before', async () => {
    jest.useFakeTimers();
    try {
      stalledCreateRule();
      const { put, uploads } = recorder();
      const done = handle(createEvent('Custom::WeightedListenerRule', rule, 'FrontendRule', 'req-53'), clients, put, lambdaContext(60_000));

      await jest.advanceTimersByTimeAsync(60_000 - RESPONSE_MARGIN_MS - 1);
      expect(uploads).toHaveLength(0);
      await jest.advanceTimersByTimeAsync(1);
      await done;

      expect(uploads[0].body.Status).toBe('FAILED');
      expect(uploads[0].body.Reason).toContain('did not finish within 50 s');
    } finally {
      jest.useRealTimers();
    }
  });

  test('THEN the margin leaves room for every upload attempt (3 attempts, 200 + 400 ms apart)', () => {
    expect(3 * UPLOAD_TIMEOUT_MS + 600).toBeLessThanOrEqual(RESPONSE_MARGIN_MS);
  });
});

describe('GIVEN failures a human must act on', () => {
  test('WHEN an AWS call is denied THEN FAILED names the error code and its message', async () => {
    elbv2Mock.on(CreateRuleCommand).rejects(
      Object.assign(new Error('User: arn:aws:sts::1:assumed-role/x is not authorized to perform: elasticloadbalancing:CreateRule'), {
        name: 'AccessDenied',
        $metadata: { httpStatusCode: 403 },
      }),
    );
    const { put, uploads } = recorder();

    await handle(createEvent('Custom::WeightedListenerRule', rule, 'FrontendRule', 'req-54'), clients, put);

    expect(uploads[0].body.Reason).toBe('AccessDenied: User: arn:aws:sts::1:assumed-role/x is not authorized to perform: elasticloadbalancing:CreateRule');
  });

  test('WHEN a resource of a type this handler does not know is deleted (type renamed or removed) THEN the Delete succeeds without any call', async () => {
    const { put, uploads } = recorder();

    await handle(deleteEvent('Custom::Retired', 'retired-1', {}), clients, put);

    expect(uploads[0].body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'retired-1' });
    expect([...elbv2Mock.calls(), ...ecsMock.calls(), ...aasMock.calls()]).toHaveLength(0);
  });
});

describe('GIVEN the clients of the custom resources against a server that never answers', () => {
  // Regression: `requestTimeout` alone only logs a warning in @smithy/node-http-handler (throwOnRequestTimeout).
  test('WHEN an AWS call stalls THEN it fails with a TimeoutError after the request timeout instead of waiting on', async () => {
    elbv2Mock.restore();
    const sockets = new Set<import('node:net').Socket>();
    const srv = createServer(() => undefined); // accepts, never answers
    srv.on('connection', (s) => sockets.add(s));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const endpoint = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
      const real = createCustomResourceClients(
        { region: 'us-east-1', endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } },
        { connectionTimeout: 200, requestTimeout: 300, socketTimeout: 300 },
      );
      const started = Date.now();

      await expect(real.elbv2.send(new DescribeRulesCommand({ RuleArns: [RULE] }))).rejects.toMatchObject({ name: 'TimeoutError' });

      expect(Date.now() - started).toBeLessThan(3_000);
      real.elbv2.destroy();
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    }
  }, 10_000);
});

describe('GIVEN sendResponse with the real HTTP upload against a local server', () => {
  async function server(status: number) {
    const requests: Array<{ method?: string; headers: IncomingMessage['headers']; body: string }> = [];
    const srv = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        requests.push({ method: req.method, headers: req.headers, body });
        res.statusCode = status;
        res.end();
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/presigned?sig=1`;
    return { url, requests, close: () => new Promise<void>((r) => srv.close(() => r())) };
  }

  test('WHEN the upload is accepted THEN a PUT with an empty content type and the exact content length arrives', async () => {
    const s = await server(200);
    try {
      await sendResponse({ ...createEvent('Custom::X', {}), ResponseURL: s.url }, { status: 'SUCCESS', result: { physicalResourceId: 'p-1', data: { A: 'b' } } });

      expect(s.requests).toHaveLength(1);
      expect(s.requests[0].method).toBe('PUT');
      expect(s.requests[0].headers['content-type'] ?? '').toBe('');
      expect(Number(s.requests[0].headers['content-length'])).toBe(Buffer.byteLength(s.requests[0].body));
      expect(JSON.parse(s.requests[0].body)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'p-1', Data: { A: 'b' } });
    } finally {
      await s.close();
    }
  });

  test('WHEN the upload is answered with HTTP 403 every time THEN sendResponse fails after 3 attempts naming the status', async () => {
    const s = await server(403);
    try {
      await expect(
        sendResponse({ ...createEvent('Custom::X', {}), ResponseURL: s.url }, { status: 'FAILED', reason: 'x', physicalResourceId: 'p-1' }),
      ).rejects.toThrow('response upload failed: HTTP 403');
      expect(s.requests).toHaveLength(3);
    } finally {
      await s.close();
    }
  });

  test('WHEN the reason is longer than CloudFormation shows THEN it is cut to 3500 characters', async () => {
    const { put, uploads } = recorder();

    await sendResponse(createEvent('Custom::X', {}), { status: 'FAILED', reason: 'x'.repeat(10000), physicalResourceId: 'p' }, put);

    expect(uploads[0].body.Reason).toHaveLength(3500);
  });
});

describe('GIVEN the property readers', () => {
  test('WHEN given numbers or digit strings THEN intProp returns the number', () => {
    expect([intProp(3, 'N'), intProp('3', 'N'), intProp('-2', 'N'), intProp(' 7 ', 'N')]).toEqual([3, 3, -2, 7]);
  });

  test.each([[''], [' '], [null], [undefined], [true], ['1.5'], ['0x10'], ['1e3'], [[]], [{}]])('WHEN given %p THEN intProp fails naming the property', (value) => {
    expect(() => intProp(value, 'Some.Prop')).toThrow(/property Some\.Prop must be a whole number/);
  });

  test('WHEN a range is given THEN intProp fails outside it naming the property and the range', () => {
    expect(() => intProp('0', 'Priority', { min: 1, max: 50000 })).toThrow('property Priority must be 1–50000, got "0"');
    expect(() => intProp('-1', 'Count', { min: 0 })).toThrow('property Count must be at least 0, got "-1"');
    expect(intProp('50000', 'Priority', { min: 1, max: 50000 })).toBe(50000);
  });

  test('WHEN given an empty or non-string value THEN stringProp fails naming the property', () => {
    expect(() => stringProp('', 'ListenerArn')).toThrow('property ListenerArn must be a non-empty string, got ""');
    expect(() => stringProp(5, 'ListenerArn')).toThrow('property ListenerArn must be a non-empty string, got 5');
    expect(stringProp('arn:x', 'ListenerArn')).toBe('arn:x');
  });
});
