#!/usr/bin/env node
import { buildApp } from '../lib/app';
import { ConfigError } from '../config';
import cdkJson from '../cdk.json';

try {
  buildApp({
    // Feature flags from cdk.json, so running this file directly (`npm run synth`) and through the
    // CDK CLI synthesize the same templates; the CLI's own context still takes precedence.
    context: cdkJson.context,
    outdir: process.env.CDK_OUTDIR ?? 'cdk.out',
  }).app.synth();
} catch (e) {
  if (e instanceof ConfigError) {
    console.error(e.message);
    process.exit(1);
  }
  throw e;
}
