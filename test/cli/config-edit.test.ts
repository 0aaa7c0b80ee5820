import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ConfigEditError, lineDiff, setColorVersion } from '../../cli/config-edit';

const ROOT = path.resolve(__dirname, '..', '..');
const DEV = readFileSync(path.join(ROOT, 'config', 'dev.ts'), 'utf8');

const file = (services: string, extra = '') => `import { X } from './x';
// a comment with services: { frontend: { colors: {} } }
export const dev: EnvironmentConfig = {
  name: 'dev',
  ${extra}
  services: ${services},
  note: \`\${REGION}a { not a brace }\`,
};
`;

describe('setColorVersion', () => {
  test('changes only that literal of the shipped config, keeping every other byte', () => {
    const r = setColorVersion(DEV, 'config/dev.ts', 'backend', 'green', '1.4.2');
    expect(r.before).toBe('1.0.0');
    const diff = lineDiff('config/dev.ts', DEV, r.text);
    expect(diff).toEqual([`config/dev.ts:${r.line}`, "- colors: { blue: { version: '1.0.0' }, green: { version: '1.0.0' } },", "+ colors: { blue: { version: '1.0.0' }, green: { version: '1.4.2' } },"]);
    expect(r.text.slice(0, r.text.indexOf("'1.4.2'")) + "'1.0.0'" + r.text.slice(r.text.indexOf("'1.4.2'") + 7)).toBe(DEV);
    // The frontend's colors (an identical line earlier in the file) are untouched.
    expect(r.text.indexOf("green: { version: '1.4.2' }")).toBeGreaterThan(r.text.indexOf('backend: {'));
  });

  test('keeps double quotes, handles quoted keys, nested templates and comments', () => {
    const text = file(`{ 'admin-site': { /* colors: { green: { version: 'x' } } */ host: "a}b", colors: { blue: { version: "1" }, green: { version: "2", note: 'v' } } } }`);
    const r = setColorVersion(text, 'f.ts', 'admin-site', 'green', `sha256:${'a'.repeat(64)}`);
    expect(r.before).toBe('2');
    expect(r.text).toContain(`green: { version: "sha256:${'a'.repeat(64)}", note: 'v' }`);
    expect(r.text.replace(`sha256:${'a'.repeat(64)}`, '2')).toBe(text);
  });

  test('refuses a service whose colors come from a spread', () => {
    const text = file(`{ frontend: { ...FRONTEND, host: 'x' } }`);
    expect(() => setColorVersion(text, 'f.ts', 'frontend', 'blue', '2')).toThrow(
      new ConfigEditError("f.ts services.frontend has no colors written in the file (it may come from a spread such as ...BASE); write it out in f.ts (e.g. colors: { blue: { version: '1.0.0' }, green: { version: '1.0.0' } }) or edit the version by hand"),
    );
  });

  test('refuses a key a later spread may override', () => {
    const text = file(`{ frontend: { colors: { blue: { version: '1' }, green: { version: '1' } }, ...OVERRIDES } }`);
    expect(() => setColorVersion(text, 'f.ts', 'frontend', 'blue', '2')).toThrow(/services\.frontend\.colors is followed by a spread that may override it/);
  });

  test('refuses colors given by a constant, a version given by a constant, a key written twice, an unknown service', () => {
    expect(() => setColorVersion(file(`{ frontend: { colors: COLORS } }`), 'f.ts', 'frontend', 'blue', '2')).toThrow(/services\.frontend\.colors is not an object literal in the file \("COLORS }/);
    expect(() => setColorVersion(file(`{ frontend: { colors: { blue: { version: V }, green: { version: '1' } } } }`), 'f.ts', 'frontend', 'blue', '2')).toThrow(
      /colors\.blue\.version is not a plain string literal \("V "\)/,
    );
    expect(() => setColorVersion(file(`{ frontend: { colors: { blue: { version: '1', version: '3' } } } }`), 'f.ts', 'frontend', 'blue', '2')).toThrow(/has version written 2 times/);
    expect(() => setColorVersion(file(`{ frontend: { colors: {} } }`), 'f.ts', 'search', 'blue', '2')).toThrow(/f\.ts services has no search written in the file; no service search in f\.ts/);
  });

  test('refuses a file without exactly one exported config object', () => {
    expect(() => setColorVersion('const x = {};', 'f.ts', 'a', 'blue', '2')).toThrow(/expected exactly one exported config object/);
  });

  test('refuses an unbalanced file', () => {
    expect(() => setColorVersion("export const dev = { services: { a: { colors: { blue: { version: '1' } }", 'f.ts', 'a', 'blue', '2')).toThrow(ConfigEditError);
  });
});
