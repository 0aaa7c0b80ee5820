import { App, type AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, PCIDSS321Checks } from 'cdk-nag';
import { ENVIRONMENTS, type EnvironmentConfig, stageName, validateEnvironments } from '../config';
import { DeployInvariantChecks } from './nag';
import { EnvironmentStage } from './stage';

export interface BuildAppOptions extends AppProps {
  /** Environments to build. @default - every environment of `ENVIRONMENTS` (config/index.ts) */
  readonly environments?: readonly EnvironmentConfig[];
}

/**
 * Builds the app with every environment stage, cdk-nag's AwsSolutions and PCI DSS 3.2.1 packs and the project's
 * deploy-invariant pack (lib/nag), so `cdk synth` and the tests fail on any unacknowledged finding alike.
 */
export function buildApp(options: BuildAppOptions = {}): { app: App; stages: Record<string, EnvironmentStage> } {
  const { environments = Object.values(ENVIRONMENTS), ...appProps } = options;
  // Every problem of every environment at once, before anything is built.
  validateEnvironments(environments);
  const app = new App({
    // The built-in CloudFormation schema check costs ~7 s of a ~9 s synth on 2 cores; CI runs the
    // same rules with cfn-lint over every template instead (.ci/run, .cfnlintrc.yaml).
    builtinCloudFormationValidation: false,
    ...appProps,
    // The CDK CLI otherwise only writes the report and exits 0; this makes a finding fail synth.
    postCliContext: { '@aws-cdk/core:failSynthOnValidationErrors': true, ...appProps.postCliContext },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new PCIDSS321Checks(app), new DeployInvariantChecks(app));
  const stages: Record<string, EnvironmentStage> = {};
  for (const config of environments) {
    stages[config.name] = new EnvironmentStage(app, stageName(config.name), { config });
  }
  return { app, stages };
}
