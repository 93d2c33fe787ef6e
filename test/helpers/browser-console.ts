import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import type { AdminStore } from '../../src/admin/admin-store.ts';
import { hashPassword } from '../../src/admin/passwords.ts';
import type { Grant } from '../../src/admin/roles.ts';

let accounts = 0;

/** A local account in `store`, as `lgwan-mirror accounts add` makes one; its password is returned once. */
export async function createAccount(store: AdminStore, grant: Grant = { role: 'operator' }): Promise<{ username: string; password: string }> {
  const username = `browser-${process.pid}-${(accounts += 1)}`;
  const password = randomBytes(12).toString('base64url');
  await store.putAccount({ username, source: 'local', passwordHash: await hashPassword(password), grants: [grant], createdAt: new Date().toISOString() });
  return { username, password };
}

/**
 * Opens `url` + `path` in the browser, which is sent to the sign-in page (no session yet), and
 * signs in there as a person would: types the user name and password and submits the form.
 * Resolves once the browser is back on `path` with a session; throws with what the browser
 * shows otherwise (the session and sign-in cookies are `__Host-`, Secure).
 */
export async function signInInBrowser(page: Page, url: string, account: { username: string; password: string }, path = '/'): Promise<void> {
  await page.goto(`${url}${path}`);
  if (new URL(page.url()).pathname !== '/sign-in') throw new Error(`${path} without a session showed ${page.url()}, not the sign-in page`);
  await page.fill('input[name="username"]', account.username);
  await page.fill('input[name="password"]', account.password);
  await page.click('button[type="submit"]');
  await page.waitForURL((current) => current.pathname !== '/sign-in', { timeout: 10_000 }).catch(async () => {
    const cookies = await page.context().cookies();
    throw new Error(`signing in through the form stayed on ${page.url()}: ${(await page.textContent('main'))?.trim()} (cookies the browser kept: ${cookies.map((cookie) => cookie.name).join(', ') || 'none'})`);
  });
}
