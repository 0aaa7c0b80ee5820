/**
 * Issue 10, "Environments": the plan's access model (development "Developers only", staging "QA Team, Stakeholders",
 * production "Public access") as config `access`, validated at synth.
 */
import { ENVIRONMENTS, type EnvironmentConfig } from '../../config';
import { OPERATOR_CIDR } from '../../config/shared';
import { albInboundRules, SECURITY_GROUP_INBOUND_RULES } from '../../config/validate';
import { problemsOf } from './support';

const clone = (c: EnvironmentConfig): any => structuredClone(c);
const withAccess = (access: unknown, base: EnvironmentConfig = ENVIRONMENTS.staging) => {
  const c = clone(base);
  c.access = access;
  return c;
};
const QA = { cidr: '198.51.100.0/24', description: 'QA Team' };

describe('GIVEN the shipped environments', () => {
  test('THEN dev is for developers only, staging for QA and stakeholders, production public', () => {
    expect(ENVIRONMENTS.dev.access).toEqual([{ cidr: OPERATOR_CIDR, description: 'Developers only' }]);
    expect(ENVIRONMENTS.staging.access).toEqual([
      { cidr: '198.51.100.0/24', description: 'QA Team' },
      { cidr: '192.0.2.0/24', description: 'Stakeholders' },
    ]);
    expect(ENVIRONMENTS.production.access).toEqual({ public: true });
  });
});

describe('access validation', () => {
  test('fails for a production tier that is not public, telling to make it public', () => {
    const [p, ...more] = problemsOf(withAccess([QA], ENVIRONMENTS.production));
    expect(more).toEqual([]);
    expect(p).toMatchObject({ field: 'access', value: [QA], fix: 'use { public: true }, or give this environment another tier' });
    expect(p.why).toMatch(/production tier serves customers/);
  });

  test('accepts a public development or pre-production environment', () => {
    expect(problemsOf(withAccess({ public: true }, ENVIRONMENTS.dev))).toEqual([]);
    expect(problemsOf(withAccess({ public: true }))).toEqual([]);
  });

  test.each([[{ public: false }], [{}], [undefined], ['public'], [{ public: true, cidr: '198.51.100.0/24' }]])('fails for the access %p', (access) => {
    expect(problemsOf(withAccess(access))).toEqual([expect.objectContaining({ field: 'access', value: access, fix: expect.stringMatching(/^use \{ public: true \}/) })]);
  });

  test('fails for an empty list of sources', () => {
    const [p, ...more] = problemsOf(withAccess([]));
    expect(more).toEqual([]);
    expect(p).toMatchObject({ field: 'access', value: [] });
    expect(p.why).toMatch(/lets nobody reach/);
  });

  test.each(['198.51.100.0', '198.51.100.0/33', '256.1.1.0/24', '2001:db8::/32', ''])('fails for the CIDR %p', (cidr) => {
    expect(problemsOf(withAccess([QA, { cidr, description: 'Stakeholders' }]))).toEqual([
      { field: 'access[1].cidr', value: cidr, why: 'is not an IPv4 CIDR', fix: "use e.g. '198.51.100.0/24'" },
    ]);
  });

  test('fails for 0.0.0.0/0 in a list, pointing to { public: true }', () => {
    const [p, ...more] = problemsOf(withAccess([{ cidr: '0.0.0.0/0', description: 'Everyone' }]));
    expect(more).toEqual([]);
    expect(p).toMatchObject({ field: 'access[0].cidr', value: '0.0.0.0/0' });
    expect(p.fix).toMatch(/use \{ public: true \}/);
  });

  test('fails for a CIDR with host bits set, naming its network and the single address', () => {
    expect(problemsOf(withAccess([{ cidr: '198.51.100.7/24', description: 'QA Team' }]))).toEqual([
      { field: 'access[0].cidr', value: '198.51.100.7/24', why: 'has host bits set beyond its prefix length', fix: 'use 198.51.100.0/24, or 198.51.100.7/32 for one address' },
    ]);
  });

  test.each(['pl-123', 'pl-0123456789ABCDEF0', 'pl-0123456789abcdef012', 'sg-0123456789abcdef0'])('fails for the prefix list ID %p', (prefixListId) => {
    const [p, ...more] = problemsOf(withAccess([{ prefixListId, maxEntries: 5, description: 'QA Team' }]));
    expect(more).toEqual([]);
    expect(p).toMatchObject({ field: 'access[0].prefixListId', value: prefixListId });
    expect(p.why).toMatch(/pl- and 8 to 17 hex digits/);
  });

  test('accepts a prefix list of 8 to 17 hex digits', () => {
    for (const prefixListId of ['pl-0123abcd', 'pl-0123456789abcdef0']) {
      expect(problemsOf(withAccess([QA, { prefixListId, maxEntries: 10, description: 'Stakeholders' }]))).toEqual([]);
    }
  });

  test.each([undefined, 0, 2.5])('fails for a prefix list with maxEntries %p', (maxEntries) => {
    const [p, ...more] = problemsOf(withAccess([{ prefixListId: 'pl-0123456789abcdef0', maxEntries, description: 'QA Team' }]));
    expect(more).toEqual([]);
    expect(p).toMatchObject({ field: 'access[0].maxEntries', value: maxEntries });
    expect(p.why).toMatch(/inbound rules quota/);
  });

  test.each([[{ description: 'QA Team' }], [{ cidr: '198.51.100.0/24', prefixListId: 'pl-0123abcd', maxEntries: 1, description: 'QA' }], ['198.51.100.0/24']])(
    'fails for the source %p (neither or both of cidr and prefixListId)',
    (source) => {
      expect(problemsOf(withAccess([source]))).toEqual([expect.objectContaining({ field: 'access[0]', value: source, why: 'must have either cidr or prefixListId' })]);
    },
  );

  test.each(['', "QA team's office", 'QA\nTeam', 'x'.repeat(201)])('fails for the description %p (not a security group rule description)', (description) => {
    const [p, ...more] = problemsOf(withAccess([{ cidr: '198.51.100.0/24', description }]));
    expect(more).toEqual([]);
    expect(p).toMatchObject({ field: 'access[0].description', value: description });
  });

  test('fails for a source listed twice (EC2 refuses a duplicate rule)', () => {
    expect(problemsOf(withAccess([QA, { ...QA, description: 'QA again' }]))).toEqual([
      { field: 'access', value: ['198.51.100.0/24'], why: 'lists a source twice', fix: 'list each CIDR or prefix list once' },
    ]);
  });

  test('THEN the inbound rules count each source on 80 and 443, a prefix list as its max entries, and the test listener', () => {
    // dev: 1 source × 2 ports + the operator CIDR + 1 NAT gateway.
    expect(albInboundRules(ENVIRONMENTS.dev)).toBe(4);
    // production: anywhere on 80 and 443 + the operator CIDR + 3 NAT gateways.
    expect(albInboundRules(ENVIRONMENTS.production)).toBe(6);
    expect(albInboundRules(withAccess([QA, { prefixListId: 'pl-0123abcd', maxEntries: 20, description: 'QA' }]))).toBe(2 * 21 + 1 + 1);
  });

  test('accepts exactly the inbound rules quota and fails one source beyond it', () => {
    // staging: 2 rules per CIDR, plus the operator CIDR and 1 NAT gateway: 29 CIDRs make 60.
    const cidrs = (n: number) => Array.from({ length: n }, (_, i) => ({ cidr: `198.51.100.${i}/32`, description: `Tester ${i}` }));
    expect(problemsOf(withAccess(cidrs(29)))).toEqual([]);
    const [p, ...more] = problemsOf(withAccess(cidrs(30)));
    expect(more).toEqual([]);
    expect(p.field).toBe('access');
    expect(p.why).toContain(`needs 62 inbound rules on the ALB security group`);
    expect(p.why).toContain(`the default quota is ${SECURITY_GROUP_INBOUND_RULES}`);
    expect(p.fix).toMatch(/merge CIDRs/);
  });

  test('fails for a prefix list whose max entries exceed the inbound rules quota', () => {
    const [p, ...more] = problemsOf(withAccess([{ prefixListId: 'pl-0123456789abcdef0', maxEntries: 30, description: 'Partners' }]));
    expect(more).toEqual([]);
    expect(p.why).toMatch(/needs 62 inbound rules .* a prefix list counting as its max entries/);
  });
});
