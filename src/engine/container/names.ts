/**
 * Random container names in Docker's style (adjective_surname), for containers created
 * without `--name`.
 */
import { randomInt } from 'node:crypto';

const ADJECTIVES = ['admiring', 'bold', 'brave', 'calm', 'clever', 'eager', 'elegant', 'focused', 'gallant', 'happy', 'jolly', 'keen', 'kind', 'lucid', 'nifty', 'quirky', 'serene', 'sharp', 'stoic', 'swift', 'tender', 'upbeat', 'vibrant', 'wise', 'zen'];
const NAMES = ['babbage', 'curie', 'darwin', 'einstein', 'euler', 'fermat', 'gauss', 'hopper', 'kepler', 'lamport', 'liskov', 'lovelace', 'mccarthy', 'noether', 'pascal', 'ritchie', 'shannon', 'thompson', 'torvalds', 'turing', 'wing', 'wozniak'];

/** A fresh random name. */
export function randomName(): string {
  return `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${NAMES[randomInt(NAMES.length)]}${randomInt(100)}`;
}
