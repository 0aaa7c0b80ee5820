import type { Stack } from 'aws-cdk-lib';
import type { EnvironmentStage } from './stage';

/** CloudFormation's resources-per-template quota, shown beside each count (the deploy-invariant pack fails at 90 %). */
const RESOURCE_QUOTA = 500;

/**
 * The few lines `npm run synth` prints after a successful synth: one per environment with the resources of each of
 * its stacks, and the cdk-nag verdict. Synth throws on any unacknowledged finding (lib/app.ts), so reaching this
 * means every pack passed. Call after `app.synth()`: each stage's assembly is then cached, not synthesized again.
 */
export function synthSummary(stages: Record<string, EnvironmentStage>, seconds: number, outdir: string): string {
  const envs = Object.values(stages);
  const stacks = envs.flatMap((s) => [s.stateful, s.stateless, s.monitoring]);
  const resources = (stack: Stack, stage: EnvironmentStage) =>
    Object.keys(stage.synth().getStackArtifact(stack.artifactId).template.Resources ?? {}).length;
  const width = Math.max(...envs.map((s) => s.stageName.length));
  const lines = [`Synthesized ${stacks.length} stacks of ${envs.length} environments to ${outdir} in ${seconds.toFixed(1)} s`];
  for (const stage of envs) {
    const counts = [stage.stateful, stage.stateless, stage.monitoring].map((st) => `${st.node.id} ${resources(st, stage)}`);
    lines.push(`  ${stage.stageName.padEnd(width)}  resources (of ${RESOURCE_QUOTA} per stack): ${counts.join(', ')}`);
  }
  lines.push('cdk-nag: AwsSolutions, PCI DSS 3.2.1 and deploy-invariant packs: no unacknowledged findings');
  return lines.join('\n');
}
