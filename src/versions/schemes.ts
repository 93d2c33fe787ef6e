/** The version orderings a catalog may name (`scheme:`); compareVersions implements each. */
export const versionSchemes = ['semver', 'mozilla', 'dotted', 'dpkg', 'integer', 'adobe', 'java'] as const;
export type VersionScheme = (typeof versionSchemes)[number];
