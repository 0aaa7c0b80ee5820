import { mkdtempSync, readFileSync, rmSync, cpSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ENVIRONMENTS } from '../../config';
import { applyPlan, deployArgs, formatPlan, loadVersions, planShip, shipCommands, verifyVersions } from '../../cli/ship';

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

describe('applyPlan and loadVersions on a copy of the repository config', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(path.join(tmpdir(), 'ship-'));
    cpSync(path.join(ROOT, 'config'), path.join(root, 'config'), { recursive: true });
    symlinkSync(path.join(ROOT, 'lambda'), path.join(root, 'lambda'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  test('edits the idle colors, prints the diff, and the re-loaded config says the new versions', async () => {
    const digest = `sha256:${'c'.repeat(64)}`;
    const plan = planShip({ config: dev, live: { ...onBlue, backend: { weights: { blue: 100, green: 0 } } }, version: digest });
    const applied = applyPlan(plan, root);
    expect(applied.diff.filter((l) => l.startsWith('+'))).toEqual([
      `+ colors: { blue: { version: '1.0.0' }, green: { version: '${digest}' } },`,
      `+ colors: { blue: { version: '1.0.0' }, green: { version: '${digest}' } },`,
    ]);
    const versions = await loadVersions('dev', root);
    expect(versions).toEqual({ frontend: { blue: '1.0.0', green: digest }, backend: { blue: '1.0.0', green: digest } });
    expect(verifyVersions(plan, versions)).toEqual([]);
    expect(verifyVersions(plan, { ...versions, backend: { blue: '9', green: digest } })).toEqual(["backend.colors.blue.version (live) is '9', expected it unchanged ('1.0.0')"]);
    expect(readFileSync(path.join(root, 'config', 'staging.ts'), 'utf8')).toBe(readFileSync(path.join(ROOT, 'config', 'staging.ts'), 'utf8'));
  }, 60000);

  test('a config that no longer loads is reported with its validation error', async () => {
    const file = path.join(root, 'config', 'dev.ts');
    const text = readFileSync(file, 'utf8');
    require('node:fs').writeFileSync(file, text.replace("green: { version: '", "green: { version: '-bad"));
    await expect(loadVersions('dev', root)).rejects.toThrow(/^config\/dev\.ts does not load after the edit: config\/dev\.ts has 1 problem: - services\.frontend\.colors\.green\.version = "-badsha256:c+": is an image reference/);
  }, 60000);
});
