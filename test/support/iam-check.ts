/**
 * Checks recorded AWS calls (test/support/instrument.ts) against a role policy resolved with the emulator's ARNs
 * (iam-resolve.ts): each call is mapped to its authorizations (iam-calls.ts) and each authorization evaluated
 * (iam-policy.ts). Returns one finding per authorization that is not allowed, with what a reviewer needs to fix it.
 */
import { authorizationsOf, type ArnScope, type Authorization, type CallFacts } from './iam-calls';
import { actionMatch, evaluate, type Statement } from './iam-policy';
import type { RecordedCall } from './instrument';

export interface IamFinding {
  readonly handler: string;
  readonly command: string;
  readonly authorization: Authorization;
  readonly decision: 'implicitDeny' | 'explicitDeny';
  /** The statements whose Action covers the action: the ones that failed to allow it (by resource or condition). */
  readonly considered: readonly Statement[];
}

/**
 * A short key of a finding, stable across runs (no emulator IDs or execution names): handler, command, action and the
 * resource's service and type, e.g. `rollback: StopExecution → states:StopExecution on states:execution`.
 */
export function findingKey(f: IamFinding): string {
  const r = f.authorization.resource;
  const parts = r.split(':');
  const type = r === '*' ? '*' : parts.length >= 6 ? `${parts[2]}:${parts.slice(5).join(':').split(/[:/]/)[0]}` : r;
  return `${f.handler}: ${f.command} → ${f.authorization.action} on ${type}`;
}

const clip = (s: string, max = 800) => (s.length > max ? `${s.slice(0, max)}… (${s.length - max} more characters)` : s);

export function describeFinding(f: IamFinding): string {
  const a = f.authorization;
  return [
    `${f.handler} ${f.command} → ${a.action} on ${a.resource}${a.context ? ` with ${JSON.stringify(a.context)}` : ''}${a.note ? ` (${a.note})` : ''}: ${f.decision}`,
    f.considered.length === 0
      ? '    no statement of the role has this action'
      : f.considered.map((s) => `    considered: ${clip(JSON.stringify(s))}`).join('\n'),
  ].join('\n');
}

/** Every authorization of `calls` the statements do not allow. Unknown commands throw (iam-calls.ts). */
export function checkCalls(handler: string, calls: readonly RecordedCall[], statements: readonly Statement[], scope: ArnScope, facts: CallFacts = {}): IamFinding[] {
  const findings: IamFinding[] = [];
  for (const call of calls) {
    for (const authorization of authorizationsOf(call, scope, facts)) {
      const result = evaluate(statements, authorization);
      if (result.decision === 'allowed') continue;
      const considered = statements.filter((s) => (s.Action !== undefined ? [s.Action].flat() : []).some((p) => actionMatch(p, authorization.action)));
      findings.push({ handler, command: call.command, authorization, decision: result.decision, considered });
    }
  }
  return findings;
}
