/**
 * The contract between the handlers that publish metrics and the CDK app that alarms on and graphs them.
 * No SDK imports here: the CDK app reads these at synth.
 */
export const METRICS_NAMESPACE = 'SafeReleases';

/** Published after every verified shift that changed weights; dimensions Environment, Service, Color; Unit Percent. */
export const TRAFFIC_WEIGHT_METRIC = 'TrafficWeightPercent';

/** Emitted by the rollback Lambda (Embedded Metric Format); dimension Environment. */
export const ROLLBACK_METRICS = {
  failed: 'RollbackFailed',
  incomplete: 'RollbackIncomplete',
  completed: 'RollbackCompleted',
  timeToSafe: 'RollbackTimeToSafe',
} as const;

/** Emitted by the release Lambda (Embedded Metric Format); dimension Environment. */
export const RELEASE_METRICS = {
  /** 1 when the release's safe state could not finish its own work (or found the stable color not running): page someone. */
  safeStateFailed: 'ReleaseSafeStateFailed',
} as const;
