import * as z from 'zod';

const matchSchema = z.looseObject({ KeyWord: z.string().max(255), MatchType: z.enum(['Exact', 'CaseInsensitive', 'StartsWith', 'Substring', 'Wildcard', 'Fuzzy', 'FuzzySubstring']) });
const filterSchema = z.looseObject({ PackageMatchField: z.string(), RequestMatch: matchSchema });
/** A winget manifestSearch request body (winget.ts). */
export const searchSchema = z.looseObject({
  MaximumResults: z.int().min(0).optional(),
  FetchAllManifests: z.boolean().optional(),
  Query: matchSchema.optional(),
  Inclusions: z.array(filterSchema).max(64).optional(),
  Filters: z.array(filterSchema).max(64).optional(),
});
export type SearchMatch = z.infer<typeof matchSchema>;
