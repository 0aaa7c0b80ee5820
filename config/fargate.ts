/**
 * Valid Fargate task CPU/memory pairs (Linux).
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
 */
const range = (from: number, to: number, step: number) =>
  Array.from({ length: (to - from) / step + 1 }, (_, i) => from + i * step);

export const FARGATE_MEMORY_BY_CPU: Readonly<Record<number, readonly number[]>> = {
  256: [512, 1024, 2048],
  512: range(1024, 4096, 1024),
  1024: range(2048, 8192, 1024),
  2048: range(4096, 16384, 1024),
  4096: range(8192, 30720, 1024),
  8192: range(16384, 61440, 4096),
  16384: range(32768, 122880, 8192),
};

/** Explains why a pair is invalid, or returns undefined when Fargate accepts it. */
export function fargatePairProblem(cpu: number, memoryMiB: number): string | undefined {
  const valid = FARGATE_MEMORY_BY_CPU[cpu];
  if (!valid) {
    return `Fargate CPU must be one of ${Object.keys(FARGATE_MEMORY_BY_CPU).join(', ')}`;
  }
  if (!valid.includes(memoryMiB)) {
    return `Fargate does not accept ${memoryMiB} MiB with ${cpu} CPU units; valid memory for ${cpu} CPU: ${valid.join(', ')} MiB`;
  }
  return undefined;
}
