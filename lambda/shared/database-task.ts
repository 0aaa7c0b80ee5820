/**
 * The contract between the CDK app and `npm run db` (cli/db.ts): where the database procedures run. The stateless
 * stack renders it as JSON into its output `DatabaseTask`; the CLI reads it with DescribeStacks, as it reads the
 * `TopologyTable` output. Nothing about the environment's database task is hard-coded in the CLI.
 */
import { Color, COLORS } from './topology';

/** Output of `<Stage>-Stateless` holding the `DatabaseTask` document. */
export const DATABASE_TASK_OUTPUT = 'DatabaseTask';

export interface DatabaseTask {
  /** The service whose image holds the migrations (config `runsMigration`). */
  readonly service: string;
  /** Its migration task definition (schema owner's credentials) per color; `npm run db` runs the live color's. */
  readonly taskDefinitions: Readonly<Record<Color, string>>;
  /** Container whose command is overridden. */
  readonly containerName: string;
  readonly subnets: readonly string[];
  readonly securityGroups: readonly string[];
  /** Log group of the service; the task's stream is `<color>-migration/<container>/<task id>`. */
  readonly logGroupName: string;
  /** The environment's primary database instance (RDS DBInstanceIdentifier). */
  readonly databaseInstanceId: string;
}

/** The log stream prefix of a color's migration task definition (lib/services.ts). */
export function migrationStreamPrefix(color: Color): string {
  return `${color}-migration`;
}

/** Parses and validates the `DatabaseTask` output; throws one error listing every problem. */
export function parseDatabaseTask(raw: string | undefined): DatabaseTask {
  if (!raw) throw new Error(`the output ${DATABASE_TASK_OUTPUT} is empty`);
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch (e) {
    throw new Error(`the output ${DATABASE_TASK_OUTPUT} is not valid JSON: ${(e as Error).message}`);
  }
  const t = (doc ?? {}) as Partial<Record<keyof DatabaseTask, unknown>>;
  const problems: string[] = [];
  const str = (v: unknown, f: string) => {
    if (typeof v !== 'string' || v === '') problems.push(`${f} must be a non-empty string, got ${JSON.stringify(v)}`);
  };
  const list = (v: unknown, f: string) => {
    if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== 'string' || x === '')) problems.push(`${f} must be a non-empty list of strings, got ${JSON.stringify(v)}`);
  };
  str(t.service, 'service');
  for (const c of COLORS) str((t.taskDefinitions as Record<string, unknown> | undefined)?.[c], `taskDefinitions.${c}`);
  str(t.containerName, 'containerName');
  list(t.subnets, 'subnets');
  list(t.securityGroups, 'securityGroups');
  str(t.logGroupName, 'logGroupName');
  str(t.databaseInstanceId, 'databaseInstanceId');
  if (problems.length > 0) throw new Error(`the output ${DATABASE_TASK_OUTPUT} is invalid:\n  - ${problems.join('\n  - ')}`);
  return doc as DatabaseTask;
}
