import { bundleHandlers } from '../lib/bundles';
const { metafile } = bundleHandlers();
for (const [k, v] of Object.entries(metafile.outputs)) if (k.endsWith('.mjs')) console.log((v.bytes/1024).toFixed(1), k.replace(/.*handler-bundles-[^/]*\//,''));
