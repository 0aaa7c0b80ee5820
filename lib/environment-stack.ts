import { Stack, type StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { EnvironmentConfig } from '../config';

export interface EnvironmentStackProps extends StackProps {
  readonly config: EnvironmentConfig;
}

/** A stack of one environment: its AZs come from config, so nothing looks them up in the account. */
export abstract class EnvironmentStack extends Stack {
  readonly config: EnvironmentConfig;

  constructor(scope: Construct, id: string, props: EnvironmentStackProps) {
    // Without indentation: CloudFormation's 1 MB template quota counts the file the CDK uploads, and indentation is
    // about half of it for a stateless stack of ten services. https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
    super(scope, id, { suppressTemplateIndentation: true, ...props });
    this.config = props.config;
  }

  // Stack.availabilityZones would otherwise need an `availability-zones` context lookup with
  // credentials for the account. https://docs.aws.amazon.com/cdk/v2/guide/context.html
  override get availabilityZones(): string[] {
    return [...this.config.availabilityZones];
  }
}
