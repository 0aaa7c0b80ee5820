/**
 * Start of the cause of a ReleaseHeld the judge throws (inconclusive after its extensions, policy `hold`): the hold
 * step names the judge rather than an alarm of the stable color. Its own module: the release handler imports this
 * string only, not the judge.
 */
export const JUDGE_HOLD_PREFIX = 'judge: ';
