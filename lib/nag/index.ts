export { acknowledgeIam5Resource, acknowledgeKmsGrantWildcards, iam5ResourceFinding } from './acknowledge';
export { DeployInvariantChecks } from './pack';
