import type { CfnResource } from 'aws-cdk-lib';

/**
 * Details of a finding (sizes, the reference that is out of range, the key that is missing a principal), shown in
 * the report next to the resource. A rule's finding ID stays stable (it is what an acknowledgment names); the numbers
 * that explain it go here.
 */
const notes = new Map<string, string[]>();

/** Records why `rule` (with `finding`, if the rule returns findings) fails on `node`. */
export function explain(node: CfnResource, rule: string, text: string, finding?: string): void {
  const key = noteKey(finding === undefined ? rule : `${rule}[${finding}]`, node.node.path);
  notes.set(key, [...(notes.get(key) ?? []), text]);
}

export function noteKey(ruleWithFinding: string, constructPath: string): string {
  return `${ruleWithFinding}|${constructPath}`;
}

/** The notes of the run, then forgets them. */
export function takeNotes(): Map<string, string[]> {
  const taken = new Map(notes);
  notes.clear();
  return taken;
}
