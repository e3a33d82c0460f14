import { InvalidArgumentError } from 'commander';
import { parseCampaignId } from '../domain/validation.js';

/** Commander argument parser for whole numbers >= min; errors name the offending value. */
export function intArg(min = 1): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected a whole number >= ${min}, got '${value}'`);
    return n;
  };
}

export function campaignIdArg(value: string): number {
  const n = parseCampaignId(value);
  if (n === undefined) throw new InvalidArgumentError(`campaign id must be a positive whole number, got '${value}'`);
  return n;
}

/** Collects a repeatable option into an array. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
