import { colorOfAlarm, InvalidAlarmEvent, parseAlarmEvent, parseReasonData } from '../../lambda/rollback';
import { event, topology } from './helpers';

type Ev = ReturnType<typeof event>;
const base = () => JSON.parse(JSON.stringify(event())) as Ev & Record<string, unknown>;

function problemsOf(raw: unknown): string[] {
  try {
    parseAlarmEvent(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidAlarmEvent);
    return [...(e as InvalidAlarmEvent).problems];
  }
  throw new Error('expected InvalidAlarmEvent');
}

describe('parseAlarmEvent', () => {
  test('accepts a real CloudWatch Alarm State Change event and reads the metric values', () => {
    const e = parseAlarmEvent(event('green-5xx', { datapoints: [12, 17] }));
    expect(e).toEqual({
      id: 'evt-1',
      time: '2030-01-01T00:04:00Z',
      timeMs: Date.parse('2030-01-01T00:04:00Z'),
      alarmArn: 'arn:aws:cloudwatch:us-east-1:123456789012:alarm:green-5xx',
      alarmName: 'green-5xx',
      state: 'ALARM',
      previousState: 'OK',
      reason: expect.stringContaining('Threshold Crossed: 2 datapoints'),
      metrics: { recentDatapoints: [12, 17], threshold: 5, statistic: 'Sum', period: 60 },
    });
  });

  test('accepts an event without id and without reasonData (composite alarms send none)', () => {
    const raw = base();
    delete (raw as Record<string, unknown>).id;
    delete (raw.detail.state as Record<string, unknown>).reasonData;
    expect(parseAlarmEvent(raw)).toMatchObject({ alarmName: 'green-5xx', metrics: {} });
  });

  test('accepts an OK state change (the core ignores it, it is not malformed)', () => {
    expect(parseAlarmEvent(event('green-5xx', { state: 'OK' })).state).toBe('OK');
  });

  test.each([
    ['null', null, 'event must be a JSON object'],
    ['an array', [], 'event must be a JSON object'],
    ['a string', 'ALARM', 'event must be a JSON object'],
  ])('fails when the event is %s', (_, raw, problem) => {
    expect(problemsOf(raw)).toEqual([expect.stringContaining(problem)]);
  });

  const cases: [string, (e: Ev & Record<string, unknown>) => void, string][] = [
    ['source is not aws.cloudwatch', (e) => (e.source = 'aws.events'), 'source must be "aws.cloudwatch"'],
    ['detail-type is another event type', (e) => (e['detail-type'] = 'CloudWatch Alarm Configuration Change'), 'detail-type must be'],
    ['detail-type is missing', (e) => delete (e as Record<string, unknown>)['detail-type'], 'detail-type must be'],
    ['time is missing', (e) => delete (e as Record<string, unknown>).time, 'time must be an ISO 8601 timestamp'],
    ['time is not a timestamp', (e) => (e.time = 'yesterday'), 'time must be an ISO 8601 timestamp'],
    ['id is empty', (e) => (e.id = ''), 'id must be a non-empty string'],
    ['detail is missing', (e) => delete (e as Record<string, unknown>).detail, 'detail must be an object'],
    ['detail.alarmName is missing', (e) => delete (e.detail as Record<string, unknown>).alarmName, 'detail.alarmName must be a non-empty string'],
    ['detail.alarmName is blank', (e) => (e.detail.alarmName = '  '), 'detail.alarmName must be a non-empty string'],
    ['detail.state is missing', (e) => delete (e.detail as Record<string, unknown>).state, 'detail.state must be an object'],
    ['detail.state.value is missing', (e) => delete (e.detail.state as Record<string, unknown>).value, 'detail.state.value must be one of'],
    ['detail.state.value is unknown', (e) => ((e.detail.state as Record<string, unknown>).value = 'FIRING'), 'detail.state.value must be one of'],
    ['detail.state.reason is missing', (e) => delete (e.detail.state as Record<string, unknown>).reason, 'detail.state.reason must be a string'],
    ['detail.state.reasonData is not a string', (e) => ((e.detail.state as Record<string, unknown>).reasonData = { recentDatapoints: [1] }), 'reasonData must be a JSON string'],
    ['detail.previousState is missing', (e) => delete (e.detail as Record<string, unknown>).previousState, 'detail.previousState must be an object'],
    ['detail.previousState.value is missing', (e) => delete (e.detail.previousState as Record<string, unknown>).value, 'detail.previousState must be an object'],
    ['resources is missing', (e) => delete (e as Record<string, unknown>).resources, 'resources must be [<alarm ARN>]'],
    ['resources has two ARNs', (e) => e.resources.push(e.resources[0]), 'resources must be [<alarm ARN>]'],
    ['resources holds a non-alarm ARN', (e) => (e.resources = ['arn:aws:sns:us-east-1:123456789012:topic']), 'must be a CloudWatch alarm ARN'],
    ['resources names another alarm', (e) => (e.resources = ['arn:aws:cloudwatch:us-east-1:123456789012:alarm:other']), 'is not the ARN of alarm "green-5xx"'],
  ];
  test.each(cases)('fails when %s', (_, mutate, problem) => {
    const raw = base();
    mutate(raw);
    expect(problemsOf(raw)).toEqual([expect.stringContaining(problem)]);
  });

  test('fails listing every problem at once', () => {
    const raw = base();
    raw.source = 'x';
    delete (raw.detail as Record<string, unknown>).alarmName;
    expect(problemsOf(raw)).toHaveLength(2);
  });
});

describe('parseReasonData', () => {
  test('reads recentDatapoints, threshold, statistic and period', () => {
    expect(parseReasonData('{"recentDatapoints":[3.5,"x",7],"threshold":2,"statistic":"Average","period":300}')).toEqual({
      recentDatapoints: [3.5, 7],
      threshold: 2,
      statistic: 'Average',
      period: 300,
    });
  });
  test('keeps text that is not a JSON object as unparsed, never throws', () => {
    expect(parseReasonData('not json')).toEqual({ unparsed: 'not json' });
    expect(parseReasonData('[1,2]')).toEqual({ unparsed: '[1,2]' });
    expect(parseReasonData(undefined)).toEqual({});
  });
});

describe('colorOfAlarm', () => {
  test('maps each rollback alarm to its color and anything else to undefined', () => {
    expect(colorOfAlarm(topology, 'blue-5xx')).toBe('blue');
    expect(colorOfAlarm(topology, 'green-5xx')).toBe('green');
    expect(colorOfAlarm(topology, 'green-latency')).toBe('green');
    expect(colorOfAlarm(topology, 'prod-green-5xx')).toBeUndefined();
  });
});
