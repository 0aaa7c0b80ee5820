import { App, Stack } from 'aws-cdk-lib';
import { DeployInvariantChecks } from '../../lib/nag';
import { modelOf, resetModels, type StackModel } from '../../lib/nag/model';
import { TEST_CONTEXT } from '../cdk/support';

/** One violating resource of the deploy-invariant pack's report. */
export interface Finding {
  /** `DeployInvariants-<Rule>` or `DeployInvariants-<Rule>[<finding>]`. */
  readonly id: string;
  readonly path: string;
  readonly description: string;
}

/** An app with the project's feature flags (strong cross-stack references: exports read with Fn::ImportValue) and no nag plugins. */
export function newApp(): App {
  // As lib/app.ts: the built-in CloudFormation schema check is slow, and cfn-lint covers it in CI.
  return new App({ context: TEST_CONTEXT, builtinCloudFormationValidation: false });
}

/** A stack pinned to an account and region, as every stack of the project is. */
export function newStack(app: App = newApp(), id = 'Test'): Stack {
  return new Stack(app, id, { env: { account: '123456789012', region: 'us-east-1' } });
}

/** Synthesizes the app (the rules read its templates), then runs the pack over it as synth's validation does. */
export function findings(app: App): Finding[] {
  app.synth();
  const report = new DeployInvariantChecks().validateScope(app);
  return report.violations.flatMap((v) =>
    v.violatingResources.map((r) => ({ id: v.ruleName, path: r.constructPath ?? '', description: v.description })),
  );
}

/** The findings of one rule, as `id @ path`. */
export function findingsOf(app: App, rule: string): string[] {
  return findings(app)
    .filter((f) => f.id.startsWith(`DeployInvariants-${rule}`))
    .map((f) => `${f.id} @ ${f.path}`);
}

/** The model of a synthesized stack, for estimator tests. */
export function synthesizedModel(stack: Stack): StackModel {
  const app = stack.node.root as App;
  app.synth();
  resetModels(app);
  return modelOf(stack);
}
