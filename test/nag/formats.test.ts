import { FORMATS, LONGEST_REGION, PARTITION, renderAttribute, type FormatContext } from '../../lib/nag/formats';

const context = (props: Record<string, string> = {}): FormatContext => ({
  stackName: 'Dev-Stateless',
  region: LONGEST_REGION,
  account: '123456789012',
  logicalId: 'Logical',
  prop: (name) => props[name],
});

describe('the attribute formats (lib/nag/formats.ts)', () => {
  test('every type that names its resources gives the documented limit and cites its CloudFormation page', () => {
    for (const [type, format] of Object.entries(FORMATS)) {
      if (!format.name) continue;
      expect({ type, max: format.name.max > 0, doc: format.name.doc }).toEqual({
        type,
        max: true,
        doc: expect.stringMatching(/^https:\/\/docs\.aws\.amazon\.com\/AWSCloudFormation\/latest\/TemplateReference\/aws-resource-[a-z0-9]+-[a-z0-9]+\.html$/),
      });
    }
  });

  test('a state machine ARN is colon-separated: split on \':stateMachine/\' it is one part', () => {
    const arn = renderAttribute('AWS::StepFunctions::StateMachine', undefined, context())!;
    expect(arn).toBe(`arn:${PARTITION}:states:${LONGEST_REGION}:123456789012:stateMachine:Dev-Stateless-Logical-XXXXXXXXXXXXX`);
    expect(arn.split(':stateMachine/')).toHaveLength(1);
    expect(arn.split(':')).toHaveLength(7);
  });

  test('a listener ARN is listener/app/<lb-name>/<lb-id>/<listener-id>: five parts on /', () => {
    const arn = renderAttribute('AWS::ElasticLoadBalancingV2::Listener', undefined, context())!;
    expect(arn.split('/')).toEqual([expect.stringMatching(/:listener$/), 'app', 'X'.repeat(32), '0'.repeat(16), '0'.repeat(16)]);
  });

  test('a given name wins over the generated one; a generated name is cut to the limit', () => {
    expect(renderAttribute('AWS::Lambda::Function', undefined, context({ FunctionName: 'release' }))).toBe('release');
    expect(renderAttribute('AWS::Lambda::Function', undefined, context({}))).toBe('Dev-Stateless-Logical-XXXXXXXXXXXXX');
    expect(renderAttribute('AWS::ElasticLoadBalancingV2::TargetGroup', 'TargetGroupName', context({}))).toHaveLength(32);
  });

  test('an unknown type or attribute renders as undefined (the estimator then uses its default and reports it)', () => {
    expect(renderAttribute('AWS::Unknown::Thing', undefined, context())).toBeUndefined();
    expect(renderAttribute('AWS::SNS::Topic', 'NoSuchAttribute', context())).toBeUndefined();
  });
});
