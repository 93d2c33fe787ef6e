import * as z from 'zod';

/** What an agent sends to enroll (POST /api/v1/agent/enroll, agent-auth.ts). */
export const enrollSchema = z.strictObject({
  token: z.string().min(16).max(128).regex(/^[A-Za-z0-9_-]+$/u, 'the enrollment token the admin issued'),
  hostname: z.string().min(1).max(253).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/u, 'a host name: letters, digits and . _ -').optional(),
  os: z.enum(['windows', 'linux']).optional(),
});
