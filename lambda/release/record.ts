/**
 * What a release leaves behind at every step: an entry in the environment's ledger (the core's appendLedger), a
 * message on the notification topic, and the release record: one item `{pk: "<environment>#release"}` in the lock
 * table naming the running execution, its colors and, while it waits for one, the approval task token (read by
 * `npm run release -- approve`).
 */
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PublishCommand } from '@aws-sdk/client-sns';
import { headline, snsNotification } from '../shared/headline';
import { Color } from '../shared/topology';
import { appendLedger, call, errorMessage, formatWeights, fromItem, LedgerAction, logger, nowOf, toAttributes, WeightsByService } from '../traffic';
import { RecordContext, ReleaseContext } from './context';

/** Release events, recorded in the ledger as action `release:<event>`. */
export type ReleaseEvent =
  | 'started'
  | 'backup'
  | 'preflight-checked'
  | 'migration-started'
  | 'migration-succeeded'
  | 'scaled-up'
  | 'stable'
  | 'pre-traffic-passed'
  | 'shifted'
  | 'gate-passed'
  | 'judge-verdict'
  | 'approval-requested'
  | 'completed'
  | 'rolled-back'
  | 'held'
  | 'failed'
  | 'finish-incomplete'
  | 'safe-failed'
  /** The summary at the end of every release (report.ts). */
  | 'report';

export interface RecordInput {
  readonly actor: string;
  readonly event: ReleaseEvent;
  readonly message: string;
  readonly weightsBefore?: WeightsByService;
  readonly weightsAfter?: WeightsByService;
  readonly detail?: Record<string, unknown>;
  /** Publish the notification too. @default true */
  readonly notify?: boolean;
}

/**
 * The core's LedgerAction names traffic operations only; release events share the table with the prefix `release:`.
 * (Widening LedgerAction in lambda/traffic/ledger.ts would remove this cast.)
 */
function ledgerAction(event: ReleaseEvent): LedgerAction {
  return `release:${event}` as unknown as LedgerAction;
}

/**
 * Writes the ledger entry (must succeed) and publishes the notification (best effort: logged when it fails), unless
 * `notify: false` (a ledger entry only).
 */
export async function record(ctx: RecordContext, input: RecordInput): Promise<void> {
  await appendLedger(ctx, {
    actor: input.actor,
    action: ledgerAction(input.event),
    reason: input.message,
    weightsBefore: input.weightsBefore,
    weightsAfter: input.weightsAfter,
    detail: input.detail,
  });
  if (input.notify !== false) await notify(ctx, input);
}

/** The verdict of the first line (lambda/shared/headline.ts) by event; any other event is a step of a running release. */
const VERDICT: Partial<Record<ReleaseEvent, string>> = {
  completed: 'Released',
  'rolled-back': 'Release rolled back',
  failed: 'RELEASE FAILED',
  held: 'RELEASE HELD',
  'approval-requested': 'APPROVAL NEEDED',
  'finish-incomplete': 'Release finish incomplete',
  'safe-failed': 'SAFE STATE FAILED',
  report: 'Release report',
};

/**
 * The notification of a release event: the first line at a glance (environment, verdict, step, the release's services,
 * the weights after the step), then the message, the actor and the detail.
 */
export function releaseNotification(
  environment: string,
  services: readonly string[],
  input: Pick<RecordInput, 'actor' | 'event' | 'message' | 'detail' | 'weightsAfter'>,
): { head: string; details: string } {
  const first = input.weightsAfter && Object.values(input.weightsAfter).find((w) => w);
  const head = headline({
    environment,
    // A judge verdict's first line says the verdict and what follows (extend, pass, fail, hold).
    verdict:
      input.event === 'judge-verdict' && input.detail
        ? `Judge ${String(input.detail.outcome)}, ${String(input.detail.action)}`
        : (VERDICT[input.event] ?? 'Release'),
    step: input.event,
    services,
    colors: first ? formatWeights(first) : undefined,
  });
  const details = [input.message, '', `actor: ${input.actor}`, ...(input.detail ? [`detail: ${JSON.stringify(input.detail)}`] : [])].join('\n');
  return { head, details };
}

/** Publishes the notification only (best effort: logged when it fails); `record` without the ledger entry. */
export async function notify(ctx: RecordContext, input: Pick<RecordInput, 'actor' | 'event' | 'message' | 'detail' | 'weightsAfter'>): Promise<void> {
  const env = ctx.topology.environment;
  const topicArn = ctx.topology.notificationTopicArn;
  if (!topicArn) return;
  // A step's topology holds its release's services only (handler.ts).
  const { head, details } = releaseNotification(env, Object.keys(ctx.topology.services), input);
  try {
    await call(ctx, 'sns:Publish', () => ctx.release.sns.send(new PublishCommand({ TopicArn: topicArn, ...snsNotification(head, details) })));
  } catch (e) {
    logger.warn('could not publish the release notification', { event: input.event, error: errorMessage(e) });
  }
}

export interface ReleaseRecord {
  readonly pk: string;
  readonly executionArn: string;
  /**
   * held: stopped for an alarm of the stable color or an operator's change of the weights, traffic left where it was
   * (steps.ts `hold`). finish-incomplete: the new color serves 100% but the old color's scale-down, the ledger entry or
   * the lock release failed (never rolled back). safe-failed: the safe state's own work failed; the lock is kept on
   * purpose (`error` and `done` say what happened; `npm run release -- unlock` clears it after checking traffic).
   */
  readonly status: 'running' | 'awaiting-approval' | 'succeeded' | 'failed' | 'held' | 'finish-incomplete' | 'safe-failed';
  readonly stable?: Color;
  readonly candidate?: Color;
  /** The services of the release (its steps' scoped topology); the rollback Lambda rolls back these only. */
  readonly services?: readonly string[];
  readonly taskToken?: string;
  /** ISO time the release started (preflight): rollbacks of the rollback Lambda after it belong to this release. */
  readonly startedAt?: string;
  /** safe-failed / finish-incomplete: what failed, and what had been done. */
  readonly error?: string;
  readonly done?: readonly string[];
  readonly updatedAt: string;
}

export function recordKey(environment: string): string {
  return `${environment}#release`;
}

/** Writes the release record (last writer wins; only the lock holder writes it). */
export async function putReleaseRecord(ctx: ReleaseContext, item: Omit<ReleaseRecord, 'pk' | 'updatedAt'>): Promise<void> {
  // A step's topology holds its release's services only (handler.ts), so they are recorded with every write.
  const full: ReleaseRecord = { pk: recordKey(ctx.topology.environment), updatedAt: nowOf(ctx).toISOString(), services: Object.keys(ctx.topology.services), ...item };
  await call(ctx, 'dynamodb:PutItem(release record)', () =>
    ctx.clients.dynamodb.send(new PutItemCommand({ TableName: ctx.topology.lockTableName, Item: toAttributes(JSON.parse(JSON.stringify(full))) })),
  );
}

export async function readReleaseRecord(ctx: { topology: ReleaseContext['topology']; clients: ReleaseContext['clients']; retry?: ReleaseContext['retry'] }): Promise<ReleaseRecord | undefined> {
  const out = await call(ctx, 'dynamodb:GetItem(release record)', () =>
    ctx.clients.dynamodb.send(
      new GetItemCommand({ TableName: ctx.topology.lockTableName, Key: toAttributes({ pk: recordKey(ctx.topology.environment) }), ConsistentRead: true }),
    ),
  );
  return fromItem<ReleaseRecord>(out.Item);
}
