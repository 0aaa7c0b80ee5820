/**
 * The first line of every notification (release, rollback), read at a glance in an inbox or a Slack channel:
 * `[production] Automatic rollback: alarm Production-green-rollback | frontend, backend | green -> blue`, details after it.
 * Pure and tiny: it is bundled into the rollback Lambda, which is close to its size budget (test/bundles).
 */

export interface Glance {
  readonly environment: string;
  /** What it came to: `Released`, `Automatic rollback`, `ROLLBACK FAILED`, `ACTION NEEDED` (capitals where a person must act). */
  readonly verdict: string;
  /** Where: the release step or what triggered the rollback. */
  readonly step: string;
  /** @default - not shown */
  readonly services?: readonly string[];
  /** Colors and traffic, e.g. `green -> blue` or `blue 90 / green 10`. @default - not shown */
  readonly colors?: string;
}

export function headline(g: Glance): string {
  return [`[${g.environment}] ${g.verdict}: ${g.step}`, g.services?.join(', '), g.colors].filter((p) => p).join(' | ');
}

/**
 * SNS Publish input: `Subject` (email; ASCII, under 100 characters), and one message per protocol
 * (`MessageStructure: 'json'`): the text, headline first, for email and every other protocol (`default`); for HTTPS,
 * which is how Amazon Q Developer in chat applications (AWS Chatbot) subscribes, its custom-notification format,
 * without which it does not post the message to Slack.
 * https://docs.aws.amazon.com/sns/latest/dg/sns-send-custom-platform-specific-payloads-mobile-devices.html
 * https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html
 */
export function snsNotification(head: string, details: string): { Subject: string; Message: string; MessageStructure: 'json' } {
  const ascii = head.replace(/[^\x20-\x7e]/g, '?');
  return {
    Subject: ascii.length > 99 ? `${ascii.slice(0, 96)}...` : ascii,
    MessageStructure: 'json',
    Message: JSON.stringify({
      default: `${head}\n\n${details}`,
      https: JSON.stringify({ version: '1.0', source: 'custom', content: { textType: 'client-markdown', title: head, description: details.slice(0, 3000) } }),
    }),
  };
}

/** The text of a message `snsNotification` built (what email subscribers read). */
export function notificationText(message: string): string {
  return (JSON.parse(message) as { default: string }).default;
}
