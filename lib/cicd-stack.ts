import { CfnOutput, Validations } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { GitHubDeployRole } from './deploy-role';
import { EnvironmentStack, type EnvironmentStackProps } from './environment-stack';
import type { StatelessStack } from './stateless-stack';

export interface CicdStackProps extends EnvironmentStackProps {
  /** The stack whose release state machine and lock table the pipeline uses. */
  readonly stateless: StatelessStack;
}

/**
 * The environment's GitHub Actions deploy role (config `cicd`), apart from what it deploys: an administrator deploys
 * it once with the rest of the environment (README, "CI/CD"), after which the workflow deploys every stack, this one
 * included, through the CDK bootstrap roles it may assume. Its own stack, so a change of the role is reviewed as one
 * and the stateless stack keeps its room for services.
 */
export class CicdStack extends EnvironmentStack {
  readonly deployRole: GitHubDeployRole;

  constructor(scope: Construct, id: string, props: CicdStackProps) {
    super(scope, id, props);
    const cicd = props.config.cicd!;
    const { stateless } = props;
    // An explicit export, so the role's policy holds `Fn::ImportValue` already when it is built and the execution ARN
    // pattern derived from it is the one cdk-nag reports (the acknowledgment in lib/deploy-role.ts names it).
    const releaseStateMachine = sfn.StateMachine.fromStateMachineArn(this, 'ReleaseStateMachine', stateless.exportValue(stateless.release.stateMachine.stateMachineArn));
    this.deployRole = new GitHubDeployRole(this, 'GitHubDeployRole', {
      githubRepository: cicd.githubRepository,
      githubEnvironment: cicd.githubEnvironment ?? props.config.name,
      createOidcProvider: cicd.createOidcProvider,
      releaseStateMachine,
      lockTable: stateless.trafficControl.lockTable,
      ledgerTable: stateless.trafficControl.ledgerTable,
      releaseStackName: stateless.stackName,
    });
    // As in the stateless stack: CDK writes one AWS::IAM::Policy holding only this role's scoped statements.
    Validations.of(this).acknowledge({
      id: 'PCI.DSS.321-IAMNoInlinePolicy',
      reason: 'The deploy role carries one CDK-generated least-privilege policy bound to it alone; wildcard use is checked by AwsSolutions-IAM5',
    });
    new CfnOutput(this, 'DeployRoleArn', {
      description: `Set as the variable AWS_DEPLOY_ROLE_ARN of the GitHub environment ${cicd.githubEnvironment ?? props.config.name} (README, "CI/CD")`,
      value: this.deployRole.role.roleArn,
    });
  }
}
