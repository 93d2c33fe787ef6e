/**
 * Who may do what on the LGWAN side's console. A provider operator (the prefecture's or
 * vendor's staff running the LGWAN-ASP) sees every tenant; everyone else sees exactly one.
 * An approver (issue 15) decides what the tenant's rings are offered, as a WSUS approver does,
 * without managing its accounts' tokens and agents: between admin and viewer.
 */
export const roles = ['operator', 'tenant-admin', 'tenant-approver', 'tenant-viewer'] as const;
export type Role = (typeof roles)[number];

/** What a signed-in person is: a role, and the tenant it applies to (none for an operator). */
export interface Grant {
  role: Role;
  /** The tenant id; undefined only for `operator`. */
  tenant?: string;
}

export const isRole = (value: unknown): value is Role => typeof value === 'string' && (roles as readonly string[]).includes(value);

/** Japanese first: the console's own words for each role. */
export const roleLabels: Record<Role, { ja: string; en: string }> = {
  operator: { ja: '事業者オペレーター', en: 'provider operator' },
  'tenant-admin': { ja: '団体管理者', en: 'tenant admin' },
  'tenant-approver': { ja: '団体承認者', en: 'tenant approver' },
  'tenant-viewer': { ja: '団体閲覧者', en: 'tenant viewer' },
};
