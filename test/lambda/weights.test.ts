import { GuardRefused } from '../../lambda/traffic/errors';
import { addsTrafficTo, liveColorOf, percentOf, validatePercent, validateWeights, weightsForPercent } from '../../lambda/traffic/weights';

function refusal(fn: () => unknown): GuardRefused {
  try {
    fn();
  } catch (e) {
    return e as GuardRefused;
  }
  throw new Error('expected a refusal');
}

describe('GIVEN weight validation', () => {
  test('WHEN weights are integers 0–999 and not all zero THEN they are accepted', () => {
    expect(validateWeights({ blue: 999, green: 0 })).toEqual({ blue: 999, green: 0 });
    expect(validateWeights({ blue: 0, green: 1 })).toEqual({ blue: 0, green: 1 });
  });

  test.each([
    [{ blue: 1000, green: 0 }, 'blue weight must be an integer 0–999, got 1000'],
    [{ blue: 0, green: 5000 }, 'green weight must be an integer 0–999, got 5000'],
    [{ blue: -1, green: 10 }, 'blue weight must be an integer 0–999, got -1'],
    [{ blue: 90, green: 10.5 }, 'green weight must be an integer 0–999, got 10.5'],
    [{ blue: '90', green: 10 }, 'blue weight must be an integer 0–999, got "90"'],
    [{ blue: undefined, green: 10 }, 'blue weight must be an integer 0–999, got undefined'],
    [{ blue: NaN, green: 10 }, 'blue weight must be an integer 0–999, got null'],
    [{ blue: 0, green: 0 }, 'weights must not all be zero'],
  ])('fails WHEN weights are %j THEN the weights guard says why', (w, why) => {
    const e = refusal(() => validateWeights(w));
    expect(e).toBeInstanceOf(GuardRefused);
    expect(e.guard).toBe('weights');
    expect(e.reason).toBe(why);
  });

  test.each([[-1], [101], [2.5], ['10'], [undefined]])('fails WHEN percent is %p THEN it is refused', (p) => {
    const e = refusal(() => validatePercent(p));
    expect(e.guard).toBe('weights');
    expect(e.reason).toContain('percent must be an integer 0–100');
  });

  test('WHEN converting a percent THEN the named color gets it and the other the rest', () => {
    expect(weightsForPercent('green', 10)).toEqual({ blue: 90, green: 10 });
    expect(weightsForPercent('blue', 100)).toEqual({ blue: 100, green: 0 });
  });
});

describe('GIVEN weight comparisons', () => {
  test('WHEN a color’s share grows THEN it gains traffic, compared as fractions', () => {
    expect(addsTrafficTo('green', { blue: 100, green: 0 }, { blue: 90, green: 10 })).toBe(true);
    expect(addsTrafficTo('blue', { blue: 100, green: 0 }, { blue: 90, green: 10 })).toBe(false);
    expect(addsTrafficTo('green', { blue: 90, green: 10 }, { blue: 900, green: 100 })).toBe(false); // same share
    expect(addsTrafficTo('blue', { blue: 0, green: 0 }, { blue: 1, green: 0 })).toBe(true);
  });

  test('WHEN choosing the live color THEN the color with >= 50% wins and blue wins ties', () => {
    expect(liveColorOf({ blue: 50, green: 50 })).toBe('blue');
    expect(liveColorOf({ blue: 49, green: 51 })).toBe('green');
    expect(liveColorOf({ blue: 0, green: 0 })).toBe('blue');
    expect(percentOf({ blue: 1, green: 3 }, 'green')).toBe(75);
    expect(percentOf({ blue: 0, green: 0 }, 'green')).toBe(0);
  });
});
