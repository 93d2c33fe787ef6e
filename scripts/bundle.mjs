// scripts/build.sh: the program bundled with esbuild into <out>/cli/ — main.js and the chunks
// it imports, all in that one folder. Node.js 20 resolves, reads, compiles and links every ES
// module on its own; loading the few hundred modules of src/ and its libraries one by one was
// most of `serve`'s start-up (issue 18). Each command still loads only its own chunks.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../', import.meta.url));
const source = path.join(root, 'src');
const out = path.resolve(process.argv[2] ?? path.join(root, 'dist'));
const bundleFolder = path.join(source, 'cli');

/*
 * A module that reads a file beside itself (`new URL('./assets/status.css', import.meta.url)`)
 * gets the URL it has in the unbundled layout, which build.sh fills with those files: the
 * bundle's own URL, moved from cli/ to where the module would be.
 */
const moduleLocations = {
  name: 'module-locations',
  setup(esbuild) {
    // (esbuild filters are Go regular expressions: no flags.)
    esbuild.onLoad({ filter: /\.ts$/ }, async ({ path: file }) => {
      if (!file.startsWith(source + path.sep)) return undefined;
      const text = await readFile(file, 'utf8');
      if (/import\.meta\.(dirname|filename|resolve)\b/u.test(text)) {
        throw new Error(`${path.relative(root, file)}: use new URL(…, import.meta.url), which the bundle maps to the module's own place`);
      }
      const own = path.relative(bundleFolder, file).replace(/\.ts$/u, '.js').split(path.sep).join('/');
      return { contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(own)}, import.meta.url).href`), loader: 'ts' };
    });
  },
};

/*
 * A large JSON file of a library (mime-db's, twice: Koa's copy and the older one accepts
 * keeps) is read as JSON from node_modules at run time, where the library has it: bundled, it
 * would be a JavaScript object literal, which V8 takes about three times as long to compile
 * as JSON.parse takes to read it (issue 18). Each library still reads its own copy.
 */
const largeJsonBytes = 64 * 1024;
const jsonFromNodeModules = {
  name: 'json-from-node-modules',
  setup(esbuild) {
    esbuild.onResolve({ filter: /\.json$/ }, async (args) => {
      if (args.pluginData === 'resolving') return undefined;
      const resolved = await esbuild.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: 'resolving' });
      if (resolved.errors.length > 0 || !resolved.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      if ((await stat(resolved.path)).size < largeJsonBytes) return undefined;
      // Relative to <out>/cli/, where every chunk is; <out> lies beside node_modules/ (dist/, or the package's dist/).
      const fromBundle = path.relative(path.join(root, 'dist', 'cli'), resolved.path).split(path.sep).join('/');
      return { path: fromBundle, external: true };
    });
  },
};

await build({
  entryPoints: { 'cli/main': path.join(source, 'cli', 'main.ts') },
  outdir: out,
  bundle: true,
  splitting: true,
  chunkNames: 'cli/[name]-[hash]',
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  // Error classes and the like keep their names (errors.ts names each error after its class).
  keepNames: true,
  // Left as packages in node_modules: native modules; pg and node-pg-migrate (which reads its
  // templates beside itself, and loads only with PostgreSQL); node-cron (forks a file beside
  // itself; internet side only).
  external: ['@node-rs/argon2', '@napi-rs/lzma', '@ronomon/reed-solomon', 'pg', 'pg-native', 'node-pg-migrate', 'node-cron'],
  // The CommonJS libraries inside require Node's built-in modules.
  banner: { js: "import { createRequire as createRequireForBundle } from 'node:module';\nconst require = createRequireForBundle(import.meta.url);" },
  plugins: [moduleLocations, jsonFromNodeModules],
  logLevel: 'warning',
});
