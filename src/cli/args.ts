/** Parsers for option values. They throw commander's InvalidArgumentError, which exits with the usage code. */
import { InvalidArgumentError } from 'commander';
import type { JsonObject } from '../core/model.js';

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

/**
 * `fork --at` and `revert --to` take either a position or an id. Only all-digit strings are
 * positions, so an id that merely starts with a digit (a UUIDv7 often does) stays an id.
 */
export function indexOrId(value: string): number | string {
  return /^\d+$/.test(value) ? Number(value) : value;
}

export function jsonObject(value: string): JsonObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new InvalidArgumentError('must be a JSON object, e.g. \'{"key":"value"}\'');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidArgumentError('must be a JSON object');
  return parsed as JsonObject;
}
