/**
 * The judge step (Task state Judge, after the alarm gate of every canary bake): reads both colors of the release's
 * services from CloudWatch over the window since the step's shift (judge-query.ts), asks the judge (judge.ts) and acts:
 * - pass → on to the next step;
 * - fail → GateFailed (the safe state rolls back; the message carries the numbers);
 * - inconclusive → `extend` (the state machine bakes again and looks again) while the step has extensions left
 *   (`judge.maxExtensions`), then the environment's `judge.onInconclusive`: pass, fail (GateFailed) or hold
 *   (ReleaseHeld: traffic stays where it is, the operator decides).
 * Metrics that cannot be read make the look inconclusive (never a rollback for it).
 * Every verdict and its numbers go to the ledger (`release:judge-verdict`); a failure, a hold and a verdict the policy
 * decided also go to the notification. At 100 % (final bake, rollback window) the stable color has no traffic to
 * compare with: the judge does not look there; the alarms stay the backstop.
 */
import { errorMessage, logger, nowOf } from '../traffic';
import type { RecordContext } from './context';
import { GateFailed, ReleaseHeld } from './errors';
import { judge as defaultJudge, type JudgeLook, type JudgeOutcome, type JudgeSettings, type JudgeVerdict, type ServiceSeries } from './judge';
import { JUDGE_HOLD_PREFIX } from './judge-hold';
import { type JudgeQueryContext, lookWindow, type MetricWindow, minutesOf, readJudgeSeries } from './judge-query';
import { record } from './record';
import type { ReleaseState } from './steps';

export type JudgeFunction = (series: ServiceSeries[], settings: JudgeSettings, look: JudgeLook) => JudgeVerdict;

export interface JudgeStepSettings {
  readonly judge: JudgeSettings;
  /** The policy's bake: the window of a release state without `shiftedAt` (started before the judge existed). */
  readonly bakeSeconds: number;
}

export type JudgeStepContext = RecordContext &
  JudgeQueryContext & {
    readonly settings: JudgeStepSettings;
    /** The judge; tests inject one. @default - judge.ts */
    readonly judge?: JudgeFunction;
  };

/** What the step does with a verdict. */
export type JudgeAction = 'pass' | 'fail' | 'extend' | 'hold';

/** Canary steps the judge looks at: every step below 100 % (at 100 % the stable color has no traffic). */
export function judgedSteps(steps: readonly number[]): number {
  return steps.filter((s) => s < 100).length;
}

/** The most looks a release takes: every judged step, each with all its extensions. A blue/green release takes none. */
export function maxLooksOf(steps: readonly number[], settings: Pick<JudgeSettings, 'maxExtensions'>): number {
  return judgedSteps(steps) * (1 + settings.maxExtensions);
}

/** Pure: the action for a verdict, given the extensions the step already took. */
export function judgeAction(outcome: JudgeOutcome, extensions: number, settings: Pick<JudgeSettings, 'maxExtensions' | 'onInconclusive'>): { action: JudgeAction; byPolicy: boolean } {
  if (outcome === 'pass' || outcome === 'fail') return { action: outcome, byPolicy: false };
  if (extensions < settings.maxExtensions) return { action: 'extend', byPolicy: false };
  return { action: settings.onInconclusive, byPolicy: true };
}

function describe(verdict: JudgeVerdict): string {
  return verdict.services
    .map((s) => `${s.service} ${s.outcome}: ${s.reason}${Object.keys(s.numbers).length ? ` (${Object.entries(s.numbers).map(([k, v]) => `${k}=${Number.isInteger(v) ? v : Number(v.toPrecision(4))}`).join(', ')})` : ''}`)
    .join('; ');
}

/** Totals per color over the window, for the ledger (whatever numbers the judge reports besides). */
function totals(series: readonly ServiceSeries[]) {
  const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
  return Object.fromEntries(
    series.map((s) => [
      s.service,
      {
        candidate: { requests: sum(s.candidate.requests), errors: sum(s.candidate.errors) },
        stable: { requests: sum(s.stable.requests), errors: sum(s.stable.errors) },
      },
    ]),
  );
}

/** The judge step: one look at the current canary step. Returns the release state (with `extend`), or throws. */
export async function judgeStep(ctx: JudgeStepContext, release: ReleaseState): Promise<ReleaseState> {
  const settings = ctx.settings.judge;
  const maxLooks = maxLooksOf(release.steps, settings);
  if (release.percent <= 0 || release.percent >= 100 || maxLooks === 0) {
    logger.info('judge skipped: no canary step to compare', { percent: release.percent, steps: release.steps });
    return { ...release, extend: false };
  }
  const now = nowOf(ctx);
  const extensions = release.extensions ?? 0;
  const since = release.shiftedAt ? new Date(release.shiftedAt) : new Date(now.getTime() - ctx.settings.bakeSeconds * (1 + extensions) * 1000);
  const window: MetricWindow = lookWindow(since, now);
  const look: JudgeLook = { look: Math.min((release.judgeLooks ?? 0) + 1, maxLooks), maxLooks };
  let series: ServiceSeries[] = [];
  let verdict: JudgeVerdict;
  try {
    series = await readJudgeSeries(ctx, ctx.topology, release, window);
    verdict = (ctx.judge ?? defaultJudge)(series, settings, look);
  } catch (e) {
    // Metrics that cannot be read (after the core's retries: throttling, an outage, a denial) say nothing about the
    // new color: inconclusive, never a rollback of a good release for it; the bake is extended and, past the
    // extensions, the policy decides (notified). The alarms still roll back between gates.
    const why = `metrics unavailable: ${errorMessage(e)}`;
    logger.error('judge could not read the metrics', { error: errorMessage(e) });
    verdict = {
      outcome: 'inconclusive',
      services: Object.keys(ctx.topology.services).map((service) => ({ service, outcome: 'inconclusive' as const, reason: why, numbers: {} })),
      summary: why,
    };
  }
  const { action, byPolicy } = judgeAction(verdict.outcome, extensions, settings);
  const where = `${release.candidate} at ${release.percent}% (look ${look.look} of at most ${look.maxLooks}, ${minutesOf(window)} min since the shift)`;
  const then =
    action === 'extend'
      ? `bake extended (${extensions + 1} of ${settings.maxExtensions})`
      : byPolicy
      ? `inconclusive after ${settings.maxExtensions} extension(s): policy onInconclusive=${settings.onInconclusive}`
      : action;
  const message = `judge ${verdict.outcome} for ${where}: ${verdict.summary}; ${then}. ${describe(verdict)}`;
  const detail = {
    // `npm run release -- status` shows the verdicts of one execution (cli/release.ts judgeVerdictLines).
    owner: release.owner,
    percent: release.percent,
    step: release.stepIndex,
    look: look.look,
    maxLooks: look.maxLooks,
    window: { start: window.start.toISOString(), end: window.end.toISOString(), minutes: minutesOf(window) },
    outcome: verdict.outcome,
    action,
    byPolicy,
    extensions,
    summary: verdict.summary,
    services: verdict.services,
    totals: totals(series),
  };
  // Every verdict to the ledger and the notification (the issue: "every verdict and its numbers go to the ledger and
  // the notification"): the team's channel follows the release look by look, as it does every shift.
  try {
    await record(ctx, { actor: release.actor, event: 'judge-verdict', message, detail });
  } catch (e) {
    // A failed ledger write must not turn a judged failure into a pass nor a pass into a rollback: a fail or hold
    // still acts (the safe state and the hold step record too); a pass or an extension fails the step (caught: safe state).
    if (!(action === 'fail' || action === 'hold')) throw e;
    logger.error('could not record the judge verdict', { error: errorMessage(e), action });
  }
  if (action === 'fail') throw new GateFailed(message);
  if (action === 'hold') throw new ReleaseHeld(`${JUDGE_HOLD_PREFIX}${message}`);
  return {
    ...release,
    judgeLooks: look.look,
    extensions: action === 'extend' ? extensions + 1 : extensions,
    extend: action === 'extend',
  };
}
