/**
 * The contract between the CDK app and `npm run db` (cli/db.ts): where the database procedures run. Each stack renders
 * what it owns as JSON into an output: `<Stage>-Stateless` the task (`DatabaseTask`), `<Stage>-Stateful` the network
 * and the database (`DatabaseNetwork`); the CLI reads both with DescribeStacks, as it reads the `TopologyTable` output,
 * and merges them. Nothing about the environment's database task is hard-coded in the CLI.
 *
 * Why two outputs: a stateless output holding the subnets or the instance would hold `Fn::ImportValue`s of the stateful
 * stack, which cfn-lint rejects (W6001, an output re-exporting an import) and which would make the output change
 * whenever the stateful stack's exports do.
 */
import { Color, COLORS } from './topology';

/** Output of `<Stage>-Stateless` holding the task part of the `DatabaseTask` document. */
export const DATABASE_TASK_OUTPUT = 'DatabaseTask';
/** Output of `<Stage>-Stateful` holding the network and database part (`subnets`, `databaseInstanceId`). */
export const DATABASE_NETWORK_OUTPUT = 'DatabaseNetwork';

/** The fields of the `DatabaseTask` document that the stateful stack owns, in its output `DatabaseNetwork`. */
export const NETWORK_FIELDS = ['subnets', 'databaseInstanceId'] as const;

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

/** What `<Stage>-Stateful` renders into `DatabaseNetwork`. */
export type DatabaseNetwork = Pick<DatabaseTask, (typeof NETWORK_FIELDS)[number]>;
/** What `<Stage>-Stateless` renders into `DatabaseTask`. */
export type DatabaseTaskPart = Omit<DatabaseTask, (typeof NETWORK_FIELDS)[number]>;

function parseJson(raw: string | undefined, output: string): Record<string, unknown> {
  if (!raw) throw new Error(`the output ${output} is empty`);
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch (e) {
    throw new Error(`the output ${output} is not valid JSON: ${(e as Error).message}`);
  }
  return (doc ?? {}) as Record<string, unknown>;
}

/**
 * Parses and validates the two outputs (`DatabaseTask` of the stateless stack, `DatabaseNetwork` of the stateful one)
 * into one `DatabaseTask`; throws one error listing every problem, each naming its output.
 */
export function parseDatabaseTask(taskRaw: string | undefined, networkRaw: string | undefined): DatabaseTask {
  const part = parseJson(taskRaw, DATABASE_TASK_OUTPUT);
  const network = parseJson(networkRaw, DATABASE_NETWORK_OUTPUT);
  const t = { ...part, subnets: network.subnets, databaseInstanceId: network.databaseInstanceId } as Partial<Record<keyof DatabaseTask, unknown>>;
  const problems: string[] = [];
  const where = (f: string) => `${(NETWORK_FIELDS as readonly string[]).includes(f) ? DATABASE_NETWORK_OUTPUT : DATABASE_TASK_OUTPUT}.${f}`;
  const str = (v: unknown, f: string) => {
    if (typeof v !== 'string' || v === '') problems.push(`${where(f)} must be a non-empty string, got ${JSON.stringify(v)}`);
  };
  const list = (v: unknown, f: string) => {
    if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== 'string' || x === '')) problems.push(`${where(f)} must be a non-empty list of strings, got ${JSON.stringify(v)}`);
  };
  str(t.service, 'service');
  for (const c of COLORS) str((t.taskDefinitions as Record<string, unknown> | undefined)?.[c], `taskDefinitions.${c}`);
  str(t.containerName, 'containerName');
  list(t.subnets, 'subnets');
  list(t.securityGroups, 'securityGroups');
  str(t.logGroupName, 'logGroupName');
  str(t.databaseInstanceId, 'databaseInstanceId');
  if (problems.length > 0) throw new Error(`the outputs ${DATABASE_TASK_OUTPUT} and ${DATABASE_NETWORK_OUTPUT} are invalid:\n  - ${problems.join('\n  - ')}`);
  return t as DatabaseTask;
}
