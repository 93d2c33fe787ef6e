/** The native argon2 module loads at the first hash or check, not with the repository (start-up, issue 18). */
const argon2 = () => import('@node-rs/argon2');

/*
 * argon2id (memory-hard, OWASP's first choice) with the library's defaults: 19 MiB, 2
 * passes, 1 lane — about 25 ms here, slow enough that a stolen admin.json resists guessing.
 */
export const minimumPasswordLength = 12;

export const hashPassword = async (password: string): Promise<string> => (await argon2()).hash(password);

/** An argon2id hash of nothing anyone knows: verified against when the username is unknown (made at first use, not at start-up). */
let decoy: Promise<string> | undefined;

/**
 * True when `password` matches `stored`. Without a stored hash the decoy is checked
 * anyway, so that an unknown username takes as long as a wrong password.
 */
export async function passwordMatches(stored: string | undefined, password: string): Promise<boolean> {
  const { hash, verify } = await argon2();
  if (stored === undefined) {
    await verify(await (decoy ??= hash('decoy password that is never accepted')), password).catch(() => false);
    return false;
  }
  return verify(stored, password).catch(() => false);
}

export function passwordProblem(password: string): string | undefined {
  if ([...password].length < minimumPasswordLength) return `a password needs at least ${minimumPasswordLength} characters`;
  return undefined;
}
