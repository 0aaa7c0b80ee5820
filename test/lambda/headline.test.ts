/** The first line of every notification (lambda/shared/headline.ts) and the SNS message around it. */
import { headline, notificationText, snsNotification } from '../../lambda/shared/headline';
import { releaseNotification } from '../../lambda/release/record';

describe('headline', () => {
  test('reads environment, verdict, step, services and colors in one line', () => {
    expect(headline({ environment: 'production', verdict: 'Automatic rollback', step: 'alarm Production-green-rollback', services: ['frontend', 'backend'], colors: 'green -> blue' })).toBe(
      '[production] Automatic rollback: alarm Production-green-rollback | frontend, backend | green -> blue',
    );
  });

  test('leaves out what it does not know', () => {
    expect(headline({ environment: 'dev', verdict: 'Release', step: 'started' })).toBe('[dev] Release: started');
    expect(headline({ environment: 'dev', verdict: 'Release', step: 'started', services: [], colors: '' })).toBe('[dev] Release: started');
  });
});

describe('snsNotification', () => {
  const n = snsNotification('[dev] Released: completed | frontend | blue 0 / green 100', 'green serves 100%\n\nactor: cli:ana');

  test('gives email the text, headline first, and Chatbot (HTTPS) its custom notification', () => {
    expect(n.MessageStructure).toBe('json');
    const m = JSON.parse(n.Message);
    expect(Object.keys(m)).toEqual(['default', 'https']);
    expect(notificationText(n.Message)).toBe('[dev] Released: completed | frontend | blue 0 / green 100\n\ngreen serves 100%\n\nactor: cli:ana');
    expect(JSON.parse(m.https)).toEqual({
      version: '1.0',
      source: 'custom',
      content: { textType: 'client-markdown', title: '[dev] Released: completed | frontend | blue 0 / green 100', description: 'green serves 100%\n\nactor: cli:ana' },
    });
  });

  test('the subject is the headline, ASCII and under 100 characters', () => {
    expect(n.Subject).toBe('[dev] Released: completed | frontend | blue 0 / green 100');
    const long = snsNotification(`[dev] Released: completed | ${'svc-é,'.repeat(40)}`, '');
    expect(long.Subject).toMatch(/^\[dev\] Released: completed \| svc-\?,/);
    expect(long.Subject.length).toBeLessThan(100);
    expect(long.Subject).toMatch(/\.\.\.$/);
  });

  test('keeps Slack\'s description within 3,000 characters; email gets everything', () => {
    const m = snsNotification('h', 'x'.repeat(5000));
    expect(JSON.parse(JSON.parse(m.Message).https).content.description).toHaveLength(3000);
    expect(notificationText(m.Message)).toHaveLength(5003);
  });
});

describe('releaseNotification', () => {
  test('starts with the verdict of the event, the release\'s services and the weights after the step', () => {
    const { head, details } = releaseNotification('staging', ['frontend', 'backend'], {
      actor: 'cli:ana',
      event: 'rolled-back',
      message: 'gate failed at 25%: green-5xx',
      weightsAfter: { frontend: { blue: 100, green: 0 }, backend: { blue: 100, green: 0 } },
      detail: { percent: 25 },
    });
    expect(head).toBe('[staging] Release rolled back: rolled-back | frontend, backend | blue 100 / green 0');
    expect(details).toBe('gate failed at 25%: green-5xx\n\nactor: cli:ana\ndetail: {"percent":25}');
  });

  test('a step of a running release reads as one', () => {
    expect(releaseNotification('dev', ['frontend'], { actor: 'a', event: 'shifted', message: 'm' }).head).toBe('[dev] Release: shifted | frontend');
    expect(releaseNotification('dev', ['frontend'], { actor: 'a', event: 'approval-requested', message: 'm' }).head).toBe('[dev] APPROVAL NEEDED: approval-requested | frontend');
  });
});
