#!/usr/bin/env node
import { buildApp } from '../lib/app';
import { synthSummary } from '../lib/synth-summary';
import { ConfigError } from '../config';
import cdkJson from '../cdk.json';

const outdir = process.env.CDK_OUTDIR ?? 'cdk.out';
try {
  const { app, stages } = buildApp({
    context: {
      // Feature flags from cdk.json, so running this file directly (`npm run synth`) and through the
      // CDK CLI synthesize the same templates; the CLI's own context still takes precedence.
      ...cdkJson.context,
      // Asset paths in the templates' metadata, as the CDK CLI asks for by default (`--asset-metadata`);
      // scripts/bench.ts finds the bundles by them. Not in cdk.json: the CLI warns about `aws:` keys there.
      'aws:cdk:enable-asset-metadata': true,
    },
    outdir,
  });
  app.synth();
  console.log(synthSummary(stages, process.uptime(), outdir));
} catch (e) {
  if (e instanceof ConfigError) {
    console.error(e.message);
    process.exit(1);
  }
  throw e;
}
