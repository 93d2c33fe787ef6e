import * as z from 'zod';
import { adGroupPattern, distinguishedNamePattern, maxDistinguishedNameLength } from '../../admin/rings.ts';

const token = z.string().min(1).max(128).regex(/^[A-Za-z0-9][A-Za-z0-9._+~:-]*$/u, 'letters, digits and . _ + ~ : -');
/** What an agent's check-in (POST /api/v1/agent/checkin, agent.ts) may hold. */
export const checkInSchema = z.strictObject({
  agentId: token.describe('stable id of this endpoint (the agent keeps it in its state folder)'),
  agentVersion: token.optional(),
  hostname: z.string().min(1).max(253).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/u, 'a host name: letters, digits and . _ -').optional().describe('the host name, shown on the pages beside the agent id'),
  os: z.enum(['windows', 'linux']),
  tags: z
    .array(z.string().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/u, 'a tag: letters, digits and . _ -'))
    .max(32)
    .optional()
    .describe('tags the admin gave this endpoint in the agent config; rings may select agents by tag'),
  directory: z
    .strictObject({
      ou: z.string().max(maxDistinguishedNameLength).regex(distinguishedNamePattern, 'an OU distinguished name such as OU=Pilot,DC=city,DC=local').optional(),
      groups: z.array(z.string().regex(adGroupPattern, 'a group name of 1–256 characters without control characters')).max(100).optional(),
    })
    .optional()
    .describe("where the agent's computer is in Active Directory: its OU and computer groups; rings may select agents by them"),
  installed: z
    .array(z.strictObject({ product: token, version: token, platform: token.optional(), locale: token.optional() }))
    .max(500),
  results: z
    .array(
      z.strictObject({
        product: token,
        version: token,
        outcome: z.enum(['installed', 'failed']),
        exitCode: z.int().min(-2_147_483_648).max(4_294_967_295),
        message: z.string().max(300).regex(/^[^\u0000-\u001f\u007f]*$/u, 'no control characters').default(''),
      }),
    )
    .max(50)
    .optional()
    .describe('what the installs the agent ran since its last check-in did'),
});
export type CheckIn = z.infer<typeof checkInSchema>;
