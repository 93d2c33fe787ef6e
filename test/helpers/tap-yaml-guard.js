// Loaded into AVA's own process (package.json "test"): AVA's TAP reporter writes each failure's
// error as YAML with js-yaml's safeDump, which throws on an undefined field — and that throw
// ended a whole run with no counts and no word of which test failed. Undefined fields are
// skipped instead; the "not ok" line and every other field are written as before.
import yaml from 'js-yaml';

const safeDump = yaml.safeDump;
yaml.safeDump = (object, options) => safeDump(object, { ...options, skipInvalid: true });
