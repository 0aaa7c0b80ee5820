import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ENVIRONMENTS } from '../../config';
import { applyPlan, deployArgs, formatPlan, planShip, shipCommands, verifyVersions } from '../../cli/ship';

const ROOT = path.resolve(__dirname, '..', '..');
const dev = ENVIRONMENTS.dev; // frontend and backend, both colors at 1.0.0
const onBlue = { frontend: { weights: { blue: 100, green: 0 } }, backend: { weights: { blue: 100, green: 0 } } };

describe('planShip (pure: live state + args → plan)', () => {
  test('sets the idle color of every service by default', () => {
    const plan = planShip({ config: dev, live: onBlue, version: '1.1.0' });
    expect(plan).toEqual({
      env: 'dev',
      version: '1.1.0',
      file: 'config/dev.ts',
      services: [
        { service: 'frontend', liveColor: 'blue', idleColor: 'green', liveVersion: '1.0.0', from: '1.0.0', to: '1.1.0', action: 'set' },
        { service: 'backend', liveColor: 'blue', idleColor: 'green', liveVersion: '1.0.0', from: '1.0.0', to: '1.1.0', action: 'set' },
      ],
      release: ['frontend', 'backend'],
      refusals: [],
    });
    expect(formatPlan(plan)).toEqual([
      'dev: version 1.1.0',
      '  frontend  live blue 1.0.0; idle green 1.0.0 → 1.1.0  (set)',
      '  backend   live blue 1.0.0; idle green 1.0.0 → 1.1.0  (set)',
    ]);
  });

  test('follows each service to its own idle color, only the named services', () => {
    const plan = planShip({ config: dev, live: { ...onBlue, backend: { weights: { blue: 0, green: 100 } } }, version: '2.0.0', services: ['backend'] });
    expect(plan.services).toEqual([expect.objectContaining({ service: 'backend', liveColor: 'green', idleColor: 'blue', action: 'set' })]);
    expect(plan.release).toEqual(['backend']);
    expect(plan.refusals).toEqual([]);
  });

  test('does nothing for a service whose idle color already has the version, and leaves out one whose live color serves it', () => {
    const config = {
      name: 'dev' as const,
      services: {
        ...dev.services,
        frontend: { ...dev.services.frontend, colors: { blue: { version: '1.0.0' }, green: { version: '1.1.0' } } },
        backend: { ...dev.services.backend, colors: { blue: { version: '1.1.0' }, green: { version: '1.0.0' } } },
      },
    };
    const plan = planShip({ config, live: onBlue, version: '1.1.0' });
    expect(plan.services.map((s) => [s.service, s.action])).toEqual([
      ['frontend', 'idle-has-it'],
      ['backend', 'live-has-it'],
    ]);
    expect(plan.release).toEqual(['frontend']);
    expect(formatPlan(plan)[1]).toContain('(unchanged: the idle color already has this version)');
    expect(formatPlan(plan)[2]).toContain('(nothing to release: the live color already serves this version)');
  });

  test('refuses while the release lock is held, naming its owner', () => {
    const lock = { environment: 'dev', owner: 'arn:aws:states:us-east-1:1:execution:r:e1', expiresAt: 2e9, expired: false };
    expect(planShip({ config: dev, live: onBlue, version: '1.1.0', lock }).refusals).toEqual([
      'the release lock of dev is held by arn:aws:states:us-east-1:1:execution:r:e1: a release is running (or its safe state kept the lock); wait for it (npm run release -- status --env dev)',
    ]);
    expect(planShip({ config: dev, live: onBlue, version: '1.1.0', lock: { ...lock, expired: true } }).refusals).toEqual([]);
  });

  test('refuses split traffic, an unknown or undeployed service, services live on different colors, a bad version', () => {
    expect(planShip({ config: dev, live: { ...onBlue, frontend: { weights: { blue: 90, green: 10 } } }, version: '1.1.0' }).refusals).toEqual([
      expect.stringMatching(/^traffic of frontend is split \(blue 90 \/ green 10.*finish or roll back/),
    ]);
    expect(planShip({ config: dev, live: onBlue, version: '1.1.0', services: ['search'] }).refusals).toEqual(['no service search in config/dev.ts: its services are frontend, backend']);
    expect(planShip({ config: dev, live: { frontend: onBlue.frontend }, version: '1.1.0' }).refusals).toEqual([expect.stringMatching(/^backend is not deployed in dev .*npx cdk deploy 'Dev\/\*'/)]);
    expect(planShip({ config: dev, live: { ...onBlue, backend: { weights: { blue: 0, green: 100 } } }, version: '1.1.0' }).refusals).toEqual([
      expect.stringMatching(/live on different colors \(frontend on blue, backend on green\).*--services/),
    ]);
    expect(planShip({ config: dev, live: onBlue, version: 'sha256:xyz' }).refusals).toEqual([expect.stringMatching(/is not a valid image digest/)]);
  });
});

test('deploys the environment stage with the pinned cdk; --yes skips the approval of security changes', () => {
  expect(deployArgs('staging', {})).toEqual(['node_modules/.bin/cdk', 'deploy', 'Staging/*', '--require-approval', 'broadening']);
  expect(deployArgs('perf-eu' as never, { profile: 'perf', yes: true })).toEqual(['node_modules/.bin/cdk', 'deploy', 'PerfEu/*', '--require-approval', 'never', '--profile', 'perf']);
  const plan = planShip({ config: dev, live: onBlue, version: '1.1.0', services: ['backend'] });
  expect(shipCommands(plan, { yes: true })).toEqual(["node_modules/.bin/cdk deploy 'Dev/*' --require-approval never", 'npm run release -- --env dev --services backend']);
});

describe('applyPlan on a copy of config/dev.ts', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(path.join(tmpdir(), 'ship-'));
    mkdirSync(path.join(root, 'config'));
    cpSync(path.join(ROOT, 'config', 'dev.ts'), path.join(root, 'config', 'dev.ts'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  test('edits the idle color of every service to a digest and returns the diff', () => {
    const digest = `sha256:${'c'.repeat(64)}`;
    const plan = planShip({ config: dev, live: onBlue, version: digest });
    const applied = applyPlan(plan, root);
    expect(applied.original).toBe(readFileSync(path.join(ROOT, 'config', 'dev.ts'), 'utf8'));
    expect(applied.diff.filter((l) => l.startsWith('+'))).toEqual([
      `+ colors: { blue: { version: '1.0.0' }, green: { version: '${digest}' } },`,
      `+ colors: { blue: { version: '1.0.0' }, green: { version: '${digest}' } },`,
    ]);
    expect(readFileSync(path.join(root, 'config', 'dev.ts'), 'utf8').split(digest)).toHaveLength(3);
    // The file now differs from what the plan was made from: a second apply of the same plan refuses.
    expect(() => applyPlan(plan, root)).toThrow(/says frontend\.colors\.green\.version is 'sha256:c+', but the loaded config said '1\.0\.0' \(edited meanwhile\?\)/);
  });
});

test('verifyVersions: the re-loaded config must say the new idle versions and the live ones unchanged', () => {
  const plan = planShip({ config: dev, live: onBlue, version: '1.1.0' });
  const ok = { frontend: { blue: '1.0.0', green: '1.1.0' }, backend: { blue: '1.0.0', green: '1.1.0' } };
  expect(verifyVersions(plan, ok)).toEqual([]);
  expect(verifyVersions(plan, { ...ok, backend: { blue: '9', green: '1.0.0' } })).toEqual([
    "backend.colors.green.version is '1.0.0', expected '1.1.0'",
    "backend.colors.blue.version (live) is '9', expected it unchanged ('1.0.0')",
  ]);
});
