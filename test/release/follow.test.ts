/**
 * `release start` follows the execution (cli/release.ts follow): each history event printed once, in order, and each
 * poll reads only back to the last event seen (newest first), so a long history costs one call per poll, not one per
 * 100 events since the start (GetExecutionHistory's quota).
 */
import { DescribeExecutionCommand, GetExecutionHistoryCommand, type HistoryEvent, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { follow } from '../../cli/release';

const ARN = 'arn:aws:states:us-east-1:123456789012:execution:dev-release:r1';
const entered = (id: number): HistoryEvent => ({ id, timestamp: new Date(Date.UTC(2030, 0, 1, 0, 0, id % 60)), type: 'TaskStateEntered', stateEnteredEventDetails: { name: `Step${id}` } });

test('prints every event once and in order; each poll pages newest-first only back to the last event seen', async () => {
  const sfn = mockClient(SFNClient);
  // The history grows by 250 events between polls; the execution ends after the third poll.
  let events = 0;
  let polls = 0;
  sfn.on(DescribeExecutionCommand).callsFake(() => {
    polls += 1;
    events += 250;
    return { status: polls < 3 ? 'RUNNING' : 'SUCCEEDED' };
  });
  sfn.on(GetExecutionHistoryCommand).callsFake((input) => {
    const all = Array.from({ length: events }, (_, i) => entered(i + 1));
    const ordered = input.reverseOrder ? all.reverse() : all;
    const start = Number(input.nextToken ?? 0);
    const page = ordered.slice(start, start + (input.maxResults ?? 100));
    return { events: page, nextToken: start + page.length < ordered.length ? String(start + page.length) : undefined };
  });
  const lines: string[] = [];
  await expect(follow(sfn as unknown as SFNClient, ARN, (l) => lines.push(l), 0)).resolves.toBe('SUCCEEDED');
  const printed = lines.filter((l) => l.includes('→ Step')).map((l) => Number(/Step(\d+)/.exec(l)![1]));
  expect(printed).toEqual(Array.from({ length: 750 }, (_, i) => i + 1));
  expect(lines[lines.length - 1]).toBe('release SUCCEEDED');
  // 250 new events a poll: 3 pages of 100 each, newest first (the third page reaches an event already printed).
  const calls = sfn.commandCalls(GetExecutionHistoryCommand).map((c) => c.args[0].input);
  expect(calls.every((c) => c.reverseOrder === true)).toBe(true);
  expect(calls).toHaveLength(3 + 3 + 3);
});
